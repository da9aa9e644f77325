"""confirmation emails owed, recorded on the support by the statement that signs

A support owes its confirmation email in ``confirmation_owed_at`` (written by the same
statement as the support) until the dispatcher, which claims owed emails in batches
(``confirmation_claimed_at``), has sent it. Supports still waiting for the email of their
last send when this runs (no receipt yet, link still valid) are marked owed, so the
dispatcher sends what the per-support jobs queued before the upgrade may not.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 14:30:00.000000

"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

#: Links older than this no longer confirm (SUPPORT_TOKEN_MAX_AGE's default): not chased.
LINK_DAYS = 7


def upgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirmation_owed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "confirmation_claimed_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_index(
        "ix_supports_confirmation_owed_at",
        "supports",
        ["confirmation_owed_at"],
        unique=False,
        sqlite_where=sa.text("confirmation_owed_at IS NOT NULL"),
        postgresql_where=sa.text("confirmation_owed_at IS NOT NULL"),
    )
    supports = sa.table(
        "supports",
        sa.column("id", sa.Integer),
        sa.column("created_at", campaign.models.base.UTCDateTime(timezone=True)),
        sa.column("confirmed_at", campaign.models.base.UTCDateTime(timezone=True)),
        sa.column("suspect_confirmed_at", campaign.models.base.UTCDateTime(timezone=True)),
        sa.column("withdrawn_at", campaign.models.base.UTCDateTime(timezone=True)),
        sa.column("confirmation_sends", sa.SmallInteger),
        sa.column("confirmation_owed_at", campaign.models.base.UTCDateTime(timezone=True)),
    )
    receipts = sa.table("mail_receipts", sa.column("key", sa.String))
    key = (
        sa.literal("confirm-support:")
        + sa.cast(supports.c.id, sa.String)
        + sa.literal(":")
        + sa.cast(supports.c.confirmation_sends, sa.String)
    )
    op.execute(
        supports.update()
        .where(
            supports.c.confirmed_at.is_(None),
            supports.c.suspect_confirmed_at.is_(None),
            supports.c.withdrawn_at.is_(None),
            supports.c.confirmation_sends > 0,
            supports.c.created_at > datetime.now(UTC) - timedelta(days=LINK_DAYS),
            ~sa.exists().where(receipts.c.key == key),
        )
        .values(confirmation_owed_at=supports.c.created_at)
    )


def downgrade():
    op.drop_index(
        "ix_supports_confirmation_owed_at",
        table_name="supports",
        sqlite_where=sa.text("confirmation_owed_at IS NOT NULL"),
        postgresql_where=sa.text("confirmation_owed_at IS NOT NULL"),
    )
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("confirmation_claimed_at")
        batch_op.drop_column("confirmation_owed_at")
