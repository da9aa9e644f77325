"""held supports reviewed and released, stalls, fraud seen across campaigns

Invalidations become a moderator's decisions over supports (invalidate or release), with
three more conditions (a stall, the reason supports are held, one support); supports carry
the stall they were signed at; the hourly report gets lines about many campaigns.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 03:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD_CONDITION = "ip IS NOT NULL OR domain IS NOT NULL OR since IS NOT NULL OR until IS NOT NULL"
NEW_CONDITION = (
    OLD_CONDITION + " OR stall_id IS NOT NULL OR held_reason IS NOT NULL OR support_id IS NOT NULL"
)


def upgrade():
    op.create_table(
        "stalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("place", sa.String(length=120), nullable=False),
        sa.Column("volunteer", sa.String(length=100), nullable=False),
        sa.Column("opens_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_stalls_closes_after_opening")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_stalls_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_stalls_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stalls")),
        sa.UniqueConstraint("token", name=op.f("uq_stalls_token")),
    )
    with op.batch_alter_table("stalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stalls_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stalls_closes_at"), ["closes_at"], unique=False)

    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "action",
                sa.Enum("invalidate", "release", name="decisionaction", native_enum=False, length=20),
                nullable=False,
                server_default="invalidate",
            )
        )
        batch_op.add_column(sa.Column("stall_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("held_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("support_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_invalidations_stall_id_stalls"), "stalls", ["stall_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.drop_constraint(batch_op.f("ck_invalidations_has_a_condition"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_invalidations_has_a_condition"), NEW_CONDITION)
    # The default only filled the rows already there; the model sets it from now on.
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.alter_column("action", server_default=None)

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stall_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_supports_stall_id"), ["stall_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_supports_stall_id_stalls"), "stalls", ["stall_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("signing_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaigns", sa.Integer(), nullable=True))
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM signing_reports WHERE campaign_id IS NULL")
    with op.batch_alter_table("signing_reports", schema=None) as batch_op:
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("campaigns")

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_supports_stall_id_stalls"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_supports_stall_id"))
        batch_op.drop_column("stall_id")

    # Releases cannot be told apart from invalidations once the column is gone.
    op.execute("DELETE FROM invalidations WHERE action = 'release' OR NOT (" + OLD_CONDITION + ")")
    with op.batch_alter_table("invalidations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_invalidations_has_a_condition"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_invalidations_has_a_condition"), OLD_CONDITION)
        batch_op.drop_constraint(batch_op.f("fk_invalidations_stall_id_stalls"), type_="foreignkey")
        batch_op.drop_column("support_id")
        batch_op.drop_column("held_reason")
        batch_op.drop_column("stall_id")
        batch_op.drop_column("action")

    with op.batch_alter_table("stalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stalls_closes_at"))
        batch_op.drop_index(batch_op.f("ix_stalls_campaign_id"))

    op.drop_table("stalls")
