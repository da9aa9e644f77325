"""signing fraud defences: suspect supports, allow and block lists, invalidations, the
hourly report of heavy signers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 21:01:15.533471

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "abuse_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ip", "domain", "email", name="rulekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "action",
            sa.Enum("allow", "block", name="ruleaction", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("ip_low", sa.String(length=32), nullable=True),
        sa.Column("ip_high", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind != 'ip' OR (ip_low IS NOT NULL AND ip_high IS NOT NULL)",
            name=op.f("ck_abuse_rules_ip_rule_has_range"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_abuse_rules_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_rules")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_abuse_rules_kind_value")),
    )
    op.create_table(
        "invalidations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=49), nullable=True),
        sa.Column("ip_low", sa.String(length=32), nullable=True),
        sa.Column("ip_high", sa.String(length=32), nullable=True),
        sa.Column("domain", sa.String(length=254), nullable=True),
        sa.Column("since", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("until", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("invalidated", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "ip IS NOT NULL OR domain IS NOT NULL OR since IS NOT NULL OR until IS NOT NULL",
            name=op.f("ck_invalidations_has_a_condition"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_invalidations_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_invalidations_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invalidations")),
    )
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invalidations_finished_at"), ["finished_at"], unique=False)

    op.create_table(
        "signing_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("ip", "domain", "email", name="rulekind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("supports", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_signing_reports_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_reports")),
        sa.UniqueConstraint(
            "hour",
            "campaign_id",
            "kind",
            "value",
            name=op.f("uq_signing_reports_hour_campaign_id_kind_value"),
        ),
    )
    with op.batch_alter_table("signing_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_reports_hour"), ["hour"], unique=False)

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("suspect", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("suspect_confirmed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("invalidation_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_supports_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_supports_invalidation_id"), ["invalidation_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_supports_invalidation_id_invalidations"),
            "invalidations",
            ["invalidation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_supports_suspect_never_counts"), "suspect IS NULL OR confirmed_at IS NULL"
        )

    _fill_ip_keys()


def _fill_ip_keys():
    """Existing supports get the hex key of their address, so ranges match them too."""
    from campaign.services.abuse import ip_key

    conn = op.get_bind()
    supports = sa.table(
        "supports",
        sa.column("id", sa.Integer),
        sa.column("ip_address", sa.String),
        sa.column("ip_key", sa.String),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(supports.c.id, supports.c.ip_address)
            .where(supports.c.id > last, supports.c.ip_address.is_not(None))
            .order_by(supports.c.id)
            .limit(5000)
        ).all()
        if not rows:
            return
        for support_id, address in rows:
            key = ip_key(address)
            if key:
                conn.execute(sa.update(supports).where(supports.c.id == support_id).values(ip_key=key))
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_supports_suspect_never_counts"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_supports_invalidation_id_invalidations"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_supports_invalidation_id"))
        batch_op.drop_index("ix_supports_created_at")
        batch_op.drop_column("invalidation_id")
        batch_op.drop_column("suspect_confirmed_at")
        batch_op.drop_column("suspect")
        batch_op.drop_column("ip_key")

    with op.batch_alter_table("signing_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_reports_hour"))

    op.drop_table("signing_reports")
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invalidations_finished_at"))

    op.drop_table("invalidations")
    op.drop_table("abuse_rules")
