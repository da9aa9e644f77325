"""counts per day: a table folded from the count deltas, each delta with its day

The campaign page's chart counted a month of a campaign's supports per day at each refresh
(a ``GROUP BY`` that read every support of the month: 190 ms for a million). Each count
delta now carries the day (UTC) its support was confirmed, and the fold adds it to
``daily_counts`` as it adds the country to ``country_counts``. The deltas waiting when this
runs are given today; the counts per day are filled from the supports, less those deltas,
so that folding them gives exactly ``COUNT(*)`` per day.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 09:30:00.000000

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "daily_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_daily_counts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "day", name=op.f("pk_daily_counts")),
    )
    today = datetime.now(UTC).date().isoformat()
    with op.batch_alter_table("count_deltas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=False, server_default=today))
    with op.batch_alter_table("count_deltas", schema=None) as batch_op:
        batch_op.alter_column("day", server_default=None)
    # As campaign.dbutil.utc_day renders on each engine (a migration keeps its own copy).
    if op.get_bind().dialect.name == "postgresql":
        confirmed_on = "(confirmed_at AT TIME ZONE 'UTC')::date"
    else:
        confirmed_on = "date(confirmed_at)"
    op.execute(
        "INSERT INTO daily_counts (campaign_id, day, count)"
        " SELECT campaign_id, day, SUM(n) FROM ("
        f"  SELECT campaign_id, {confirmed_on} AS day, COUNT(*) AS n FROM supports"
        "   WHERE confirmed_at IS NOT NULL AND withdrawn_at IS NULL"
        f"  GROUP BY campaign_id, {confirmed_on}"
        "  UNION ALL"
        "  SELECT campaign_id, day, -SUM(delta) AS n FROM count_deltas GROUP BY campaign_id, day"
        " ) AS counted GROUP BY campaign_id, day HAVING SUM(n) <> 0"
    )


def downgrade():
    with op.batch_alter_table("count_deltas", schema=None) as batch_op:
        batch_op.drop_column("day")
    op.drop_table("daily_counts")
