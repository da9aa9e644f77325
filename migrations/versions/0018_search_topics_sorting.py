"""search, topics and sorting: the full-text index, momentum, a campaign's language, topics

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-02 03:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import campaign.models.base
from campaign.models.search_index import create_search_index, drop_search_index

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("name_es", sa.String(length=60), nullable=False),
        sa.Column("created_at", campaign.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("slug", name=op.f("uq_topics_slug")),
    )
    op.create_table(
        "campaign_topics",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_topics_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_campaign_topics_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "topic_id", name=op.f("pk_campaign_topics")),
    )
    with op.batch_alter_table("campaign_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_topics_topic_id"), ["topic_id"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), server_default="en", nullable=False))
        batch_op.add_column(sa.Column("momentum", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_campaigns_closes_at_id", ["closes_at", "id"], unique=False)
        batch_op.create_index("ix_campaigns_confirmed_count_id", ["confirmed_count", "id"], unique=False)
        batch_op.create_index("ix_campaigns_momentum_id", ["momentum", "id"], unique=False)

    # Momentum from the last seven days' confirmed supports.
    op.execute(
        """
        UPDATE campaigns SET momentum = (
          SELECT count(*) FROM supports s WHERE s.campaign_id = campaigns.id
             AND s.confirmed_at IS NOT NULL AND s.withdrawn_at IS NULL
             AND s.confirmed_at >= CURRENT_TIMESTAMP - INTERVAL '7 days')
    """
        if op.get_bind().dialect.name == "postgresql"
        else """
        UPDATE campaigns SET momentum = (
          SELECT count(*) FROM supports s WHERE s.campaign_id = campaigns.id
             AND s.confirmed_at IS NOT NULL AND s.withdrawn_at IS NULL
             AND s.confirmed_at >= datetime('now', '-7 days'))
    """
    )
    # After batch_alter_table: SQLite's copy-and-rename would drop triggers made before.
    create_search_index(op.get_bind())


def downgrade():
    drop_search_index(op.get_bind())
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_momentum_id")
        batch_op.drop_index("ix_campaigns_confirmed_count_id")
        batch_op.drop_index("ix_campaigns_closes_at_id")
        batch_op.drop_column("momentum")
        batch_op.drop_column("language")

    with op.batch_alter_table("campaign_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_topics_topic_id"))

    op.drop_table("campaign_topics")
    op.drop_table("topics")
