"""confirmation emails owed: a table of their own, not a mark on the support

A support's confirmation email owed was ``supports.confirmation_owed_at`` (and the SQLite
claim ``confirmation_claimed_at``), cleared by the dispatcher once sent: each email sent
wrote a new version of its support, with an entry in every index of ``supports``. It is
now a row of ``confirmations_owed``, deleted once sent. The emails owed when this runs
move there, claims and all; the downgrade moves them back.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 17:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_STAMP = campaign.models.base.UTCDateTime(timezone=True)


def _supports():
    return sa.table(
        "supports",
        sa.column("id", sa.Integer),
        sa.column("confirmation_owed_at", _STAMP),
        sa.column("confirmation_claimed_at", _STAMP),
    )


def _owed():
    return sa.table(
        "confirmations_owed",
        sa.column("support_id", sa.Integer),
        sa.column("owed_at", _STAMP),
        sa.column("claimed_at", _STAMP),
    )


def upgrade():
    op.create_table(
        "confirmations_owed",
        sa.Column("support_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owed_at", _STAMP, nullable=False),
        sa.Column("claimed_at", _STAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["support_id"],
            ["supports.id"],
            name=op.f("fk_confirmations_owed_support_id_supports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("support_id", name=op.f("pk_confirmations_owed")),
    )
    supports, owed = _supports(), _owed()
    op.execute(
        owed.insert().from_select(
            ["support_id", "owed_at", "claimed_at"],
            sa.select(
                supports.c.id, supports.c.confirmation_owed_at, supports.c.confirmation_claimed_at
            ).where(supports.c.confirmation_owed_at.is_not(None)),
        )
    )
    op.drop_index(
        "ix_supports_confirmation_owed_at",
        table_name="supports",
        sqlite_where=sa.text("confirmation_owed_at IS NOT NULL"),
        postgresql_where=sa.text("confirmation_owed_at IS NOT NULL"),
    )
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("confirmation_claimed_at")
        batch_op.drop_column("confirmation_owed_at")


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmation_owed_at", _STAMP, nullable=True))
        batch_op.add_column(sa.Column("confirmation_claimed_at", _STAMP, nullable=True))
    op.create_index(
        "ix_supports_confirmation_owed_at",
        "supports",
        ["confirmation_owed_at"],
        unique=False,
        sqlite_where=sa.text("confirmation_owed_at IS NOT NULL"),
        postgresql_where=sa.text("confirmation_owed_at IS NOT NULL"),
    )
    supports, owed = _supports(), _owed()
    op.execute(
        supports.update()
        .where(supports.c.id == owed.c.support_id)
        .values(confirmation_owed_at=owed.c.owed_at, confirmation_claimed_at=owed.c.claimed_at)
    )
    op.drop_table("confirmations_owed")
