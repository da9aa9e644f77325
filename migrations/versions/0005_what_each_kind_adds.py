"""what each kind adds

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:47:22.244761

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coauthors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("accepted_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_coauthors_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["users.id"], name=op.f("fk_coauthors_invited_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coauthors_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coauthors")),
        sa.UniqueConstraint("campaign_id", "user_id", name=op.f("uq_coauthors_campaign_id_user_id")),
    )
    with op.batch_alter_table("coauthors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coauthors_user_id"), ["user_id"], unique=False)

    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("hidden_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_comments_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["comments.id"], name=op.f("fk_comments_parent_id_comments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_comments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comments_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "under_review",
                "planned",
                "in_progress",
                "done",
                "declined",
                "duplicate",
                name="proposalstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=120), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_status_changes_author_id_users")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_status_changes_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["campaigns.id"], name=op.f("fk_status_changes_duplicate_of_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_changes_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "comment_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_reports_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_comment_reports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_reports")),
        sa.UniqueConstraint("comment_id", "user_id", name=op.f("uq_comment_reports_comment_id_user_id")),
    )
    op.create_table(
        "pledge_brands",
        sa.Column("support_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_pledge_brands_brand_id_brands")),
        sa.ForeignKeyConstraint(
            ["support_id"],
            ["supports.id"],
            name=op.f("fk_pledge_brands_support_id_supports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("support_id", "brand_id", name=op.f("pk_pledge_brands")),
    )
    with op.batch_alter_table("pledge_brands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledge_brands_brand_id"), ["brand_id"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer_deadline", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("escalated_from_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("group_scope", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "proposal_status",
                sa.Enum(
                    "under_review",
                    "planned",
                    "in_progress",
                    "done",
                    "declined",
                    "duplicate",
                    name="proposalstatus",
                    native_enum=False,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_campaigns_escalated_from_id"), ["escalated_from_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_escalated_from_id_campaigns"), "campaigns", ["escalated_from_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_campaigns_duplicate_of_id_campaigns"), "campaigns", ["duplicate_of_id"], ["id"]
        )

    with op.batch_alter_table("endorsements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_on", sa.Date(), nullable=True))

    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("condition_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("condition_met_at", campaign.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("moved_to_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_supports_moved_to_id_campaigns"), "campaigns", ["moved_to_id"], ["id"]
        )
        batch_op.create_check_constraint(
            "condition_in_range", "condition_threshold IS NULL OR condition_threshold BETWEEN 2 AND 1000000"
        )


def downgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_supports_condition_in_range"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_supports_moved_to_id_campaigns"), type_="foreignkey")
        batch_op.drop_column("moved_to_id")
        batch_op.drop_column("condition_met_at")
        batch_op.drop_column("condition_threshold")

    with op.batch_alter_table("endorsements", schema=None) as batch_op:
        batch_op.drop_column("evidence_on")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_duplicate_of_id_campaigns"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_campaigns_escalated_from_id_campaigns"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_campaigns_escalated_from_id"))
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("proposal_status")
        batch_op.drop_column("group_scope")
        batch_op.drop_column("escalated_from_id")
        batch_op.drop_column("answer_deadline")

    with op.batch_alter_table("pledge_brands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_brands_brand_id"))

    op.drop_table("pledge_brands")
    op.drop_table("comment_reports")
    with op.batch_alter_table("status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_changes_campaign_id"))

    op.drop_table("status_changes")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comments_campaign_id"))

    op.drop_table("comments")
    with op.batch_alter_table("coauthors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coauthors_user_id"))

    op.drop_table("coauthors")
