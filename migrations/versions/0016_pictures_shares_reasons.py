"""pictures, share credit and reasons: campaign pictures and brand logos, which supporter's
share brought a support, and supporters' reasons liked, reported, hidden and featured

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 03:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

from campaign.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("picture", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("picture_alt", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("picture_removed_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logo", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("logo_alt", sa.String(length=300), nullable=True))
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reason_hidden_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reason_featured_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_supports_referred_by_id"), ["referred_by_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_supports_referred_by_id_supports"),
            "supports",
            ["referred_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(
        "uq_supports_featured_reason",
        "supports",
        ["campaign_id"],
        unique=True,
        sqlite_where=sa.text("reason_featured_at IS NOT NULL"),
        postgresql_where=sa.text("reason_featured_at IS NOT NULL"),
    )
    op.create_table(
        "reason_likes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("support_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["support_id"],
            ["supports.id"],
            name=op.f("fk_reason_likes_support_id_supports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reason_likes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reason_likes")),
        sa.UniqueConstraint("support_id", "user_id", name=op.f("uq_reason_likes_support_id_user_id")),
    )
    op.create_index(op.f("ix_reason_likes_support_id"), "reason_likes", ["support_id"])
    op.create_table(
        "reason_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("support_id", sa.Integer(), nullable=False),
        sa.Column("reporter", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["support_id"],
            ["supports.id"],
            name=op.f("fk_reason_reports_support_id_supports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reason_reports")),
        sa.UniqueConstraint("support_id", "reporter", name=op.f("uq_reason_reports_support_id_reporter")),
    )
    op.create_index(op.f("ix_reason_reports_support_id"), "reason_reports", ["support_id"])


def downgrade():
    op.drop_index(op.f("ix_reason_reports_support_id"), table_name="reason_reports")
    op.drop_table("reason_reports")
    op.drop_index(op.f("ix_reason_likes_support_id"), table_name="reason_likes")
    op.drop_table("reason_likes")
    op.drop_index("uq_supports_featured_reason", table_name="supports")
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_supports_referred_by_id_supports"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_supports_referred_by_id"))
        batch_op.drop_column("reason_featured_at")
        batch_op.drop_column("reason_hidden_at")
        batch_op.drop_column("referred_by_id")
    with op.batch_alter_table("brands", schema=None) as batch_op:
        batch_op.drop_column("logo_alt")
        batch_op.drop_column("logo")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("picture_removed_reason")
        batch_op.drop_column("picture_alt")
        batch_op.drop_column("picture")
