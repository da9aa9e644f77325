"""look-alike addresses are one person; comments keep their rendered HTML

Canonical emails are recomputed from the NFKC form with an IDNA domain. Supports of one
campaign that now share a canonical email are resolved: the earliest confirmed support
stays, the others are withdrawn with a reason, and the affected campaigns are recounted.
Comments get the HTML of their Markdown, rendered once here and then when written.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:45:00.000000

"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DUPLICATE_REASON = "The same address as support {keeper}, written with look-alike characters."

supports = sa.table(
    "supports",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("email_canonical", sa.String),
    sa.column("country", sa.String),
    sa.column("monthly_spend", sa.Integer),
    sa.column("anonymised_at", sa.DateTime),
    sa.column("created_at", sa.DateTime),
    sa.column("confirmed_at", sa.DateTime),
    sa.column("withdrawn_at", sa.DateTime),
    sa.column("withdrawn_reason", sa.String),
)
campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Integer),
    sa.column("confirmed_count", sa.Integer),
    sa.column("monthly_spend_total", sa.BigInteger),
)
country_counts = sa.table(
    "country_counts",
    sa.column("campaign_id", sa.Integer),
    sa.column("country", sa.String),
    sa.column("count", sa.Integer),
)
count_deltas = sa.table(
    "count_deltas",
    sa.column("campaign_id", sa.Integer),
    sa.column("country", sa.String),
    sa.column("delta", sa.Integer),
    sa.column("spend", sa.Integer),
)
comments = sa.table(
    "comments", sa.column("id", sa.Integer), sa.column("body", sa.Text), sa.column("body_html", sa.Text)
)


def upgrade():
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=True))
    resolve_lookalike_addresses(op.get_bind())
    _render_comments(op.get_bind())


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("body_html")
    with op.batch_alter_table("supports", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_reason")


def _keeper_order(row):
    # The earliest confirmed support that still counts; failing that, the earliest one.
    counting = row.confirmed_at is not None and row.withdrawn_at is None
    return (not counting, row.confirmed_at or row.created_at, row.id)


def resolve_lookalike_addresses(conn) -> set[int]:
    """Recompute canonical emails, withdraw the duplicates they reveal, recount. Returns the
    ids of the campaigns recounted."""
    from campaign.models import canonical_email

    rows = conn.execute(sa.select(supports).where(supports.c.anonymised_at.is_(None))).all()
    groups = defaultdict(list)
    for row in rows:
        groups[(row.campaign_id, canonical_email(row.email))].append(row)
    final, withdraw = {}, {}
    for (_, canonical), group in groups.items():
        keeper, *others = sorted(group, key=_keeper_order)
        final[keeper.id] = canonical
        for other in others:
            # Kept unique within the campaign, and recognisably the keeper's address.
            final[other.id] = f"duplicate-{other.id}:{canonical}"[:254]
            withdraw[other.id] = (other, keeper.id)
    changed = {row.id: final[row.id] for row in rows if final[row.id] != row.email_canonical}
    # Two steps, so that no row takes a value another row still holds (unique constraint).
    for support_id in changed:
        conn.execute(
            supports.update()
            .where(supports.c.id == support_id)
            .values(email_canonical=f"migrating-{support_id}")
        )
    for support_id, canonical in changed.items():
        conn.execute(supports.update().where(supports.c.id == support_id).values(email_canonical=canonical))
    now = datetime.now(UTC)
    recount = set()
    for support_id, (row, keeper_id) in withdraw.items():
        values = {"withdrawn_reason": DUPLICATE_REASON.format(keeper=keeper_id)}
        if row.withdrawn_at is None:
            values["withdrawn_at"] = now
            recount.add(row.campaign_id)
        conn.execute(supports.update().where(supports.c.id == support_id).values(**values))
    for campaign_id in sorted(recount):
        _recount(conn, campaign_id)
    return recount


def _recount(conn, campaign_id: int) -> None:
    """The cached counts of ``campaign_id`` set to what the supports say, minus the deltas
    the counting job has not folded yet (as the app's own recount does)."""
    counting = sa.and_(
        supports.c.campaign_id == campaign_id,
        supports.c.confirmed_at.is_not(None),
        supports.c.withdrawn_at.is_(None),
    )
    exact = dict(
        conn.execute(
            sa.select(supports.c.country, sa.func.count()).where(counting).group_by(supports.c.country)
        ).all()
    )
    pending = dict(
        conn.execute(
            sa.select(count_deltas.c.country, sa.func.sum(count_deltas.c.delta))
            .where(count_deltas.c.campaign_id == campaign_id)
            .group_by(count_deltas.c.country)
        ).all()
    )
    spend = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(supports.c.monthly_spend), 0)).where(counting)
    ).scalar_one()
    pending_spend = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(count_deltas.c.spend), 0)).where(
            count_deltas.c.campaign_id == campaign_id
        )
    ).scalar_one()
    wanted = {c: int(exact.get(c, 0)) - int(pending.get(c) or 0) for c in set(exact) | set(pending)}
    conn.execute(country_counts.delete().where(country_counts.c.campaign_id == campaign_id))
    for country, n in sorted((c, n) for c, n in wanted.items() if n):
        conn.execute(country_counts.insert().values(campaign_id=campaign_id, country=country, count=n))
    conn.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id)
        .values(confirmed_count=sum(wanted.values()), monthly_spend_total=int(spend) - int(pending_spend))
    )


def _render_comments(conn) -> None:
    from campaign.markdown import render_markdown

    for comment_id, body in conn.execute(sa.select(comments.c.id, comments.c.body)).all():
        conn.execute(
            comments.update().where(comments.c.id == comment_id).values(body_html=str(render_markdown(body)))
        )
