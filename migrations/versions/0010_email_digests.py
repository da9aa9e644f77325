"""email digests: a member's email frequency and the notices held for their digest

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_frequency",
                sa.Enum(
                    "immediately",
                    "daily",
                    "weekly",
                    "never",
                    name="emailfrequency",
                    native_enum=False,
                    length=20,
                ),
                server_default="daily",
                nullable=False,
            )
        )

    op.create_table(
        "digest_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("support_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("digest_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_digest_items_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["support_id"],
            ["supports.id"],
            name=op.f("fk_digest_items_support_id_supports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_digest_items_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_items")),
        sa.UniqueConstraint("key", name=op.f("uq_digest_items_key")),
    )
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.create_index("ix_digest_items_user_id_digest_key", ["user_id", "digest_key"], unique=False)


def downgrade():
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_items_user_id_digest_key")
    op.drop_table("digest_items")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_frequency")
