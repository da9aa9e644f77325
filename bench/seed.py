"""Bench data: a few rows through the models, supports in bulk through PostgreSQL COPY.

Supports are never seeded through the web form: a million rows go through one ``COPY … FROM
STDIN`` (psycopg 3), then the cached counts, per-country counts and milestones are set from
them in SQL, exactly as folding would have left them, so the exactness check at the end of a run
also checks the seeding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from campaign.extensions import db
from campaign.models import Brand, CampaignState, Petition, User, canonical_email, utcnow
from campaign.services.counting import THRESHOLDS

#: Supporters come from these countries, most from the first (weights add up to 100).
COUNTRIES = [("GB", 30), ("DE", 14), ("FR", 12), ("US", 10), ("ES", 6), ("IT", 6), ("NL", 4),
             ("IE", 3), ("SE", 3), ("PL", 3), ("BE", 2), ("PT", 2), ("DK", 1), ("AT", 1),
             ("FI", 1), ("CA", 1), ("AU", 1)]
_COUNTRY_CYCLE = [code for code, weight in COUNTRIES for _ in range(weight)]

BODY = """Coffee farmers in the supply chain are paid less than it costs to grow their beans.

We ask the company to **publish its full list of suppliers**, to pay a living income
reference price, and to report each year on progress, checked by an independent auditor.

## Why this matters

- Four in five coffee farmers live below the poverty line.
- The company's own code of conduct promises fair pay, but nobody can check it.
- Other roasters already publish their suppliers: it can be done.

Sign, share, and tell the company you will [buy elsewhere](https://example.org) until it acts.
"""


@dataclass
class Campaigns:
    """Ids and slugs of the bench's campaigns."""

    organiser_id: int
    ids: dict[str, int]
    slugs: dict[str, str]


def seed_base(goal_of: dict[str, int]) -> Campaigns:
    """An organiser, a brand with a contact address, and one open petition per name. Commits."""
    now = utcnow()
    organiser = User(email="organiser@bench.example", name="Bench Organiser",
                     email_verified_at=now, password_hash="!")
    brand = Brand(name="Northwind Coffee", slug="northwind-coffee", approved_at=now,
                  contact_email="press@northwind.bench.example", website="https://northwind.example",
                  description="Coffee shops and supermarket coffee.")
    db.session.add_all([organiser, brand])
    db.session.flush()
    ids, slugs = {}, {}
    for name, goal in goal_of.items():
        slug = f"bench-{name}"
        petition = Petition(
            slug=slug, title=f"Northwind Coffee: pay farmers a living income ({name})",
            summary="Publish the supplier list and pay coffee farmers a living income.",
            body=BODY, demand="Publish your full supplier list and pay a living income price.",
            organiser_id=organiser.id, target_brand_id=brand.id, goal=goal,
            state=CampaignState.OPEN, created_at=now - timedelta(days=40),
            submitted_at=now - timedelta(days=39), published_at=now - timedelta(days=38))
        db.session.add(petition)
        db.session.flush()
        ids[name], slugs[name] = petition.id, slug
    db.session.commit()
    return Campaigns(organiser.id, ids, slugs)


COPY_COLUMNS = ("campaign_id", "email", "email_canonical", "name", "is_public", "country",
                "consents_to_updates", "confirmation_sends", "created_at", "confirmed_at")


def support_email(campaign_name: str, i: int) -> str:
    return f"{campaign_name}.supporter{i}@bench.example"


def bulk_supports(campaign_id: int, campaign_name: str, count: int, consent_every: int = 10,
                  pending: bool = False) -> float:
    """COPY ``count`` confirmed supports into a campaign and fold them into its cached counts.

    Every ``consent_every``-th supporter consents to updates (so a million give 100,000
    recipients for the goal fan-out). ``pending`` supports wait for their confirmation link
    instead (nothing to fold). Commits. Returns the seconds the COPY and the counts took (not
    the ANALYZE that follows).
    """
    started = time.perf_counter()
    now = utcnow()
    span = timedelta(days=30).total_seconds()
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            with cur.copy(f"COPY supports ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                for i in range(count):
                    email = support_email(campaign_name, i)
                    confirmed = now - timedelta(seconds=span * (count - i) / count)
                    copy.write_row((
                        campaign_id, email, canonical_email(email), f"Supporter {i}",
                        i % 10 != 3, _COUNTRY_CYCLE[i % len(_COUNTRY_CYCLE)],
                        i % consent_every == 0, 1, confirmed - timedelta(minutes=5),
                        None if pending else confirmed))
            if not pending:
                _fold_seeded(cur, campaign_id, now)
        conn.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _fold_seeded(cur, campaign_id: int, now) -> None:
    """Set the cached counts and milestones as folding the seeded supports would have."""
    cur.execute("""
        INSERT INTO country_counts (campaign_id, country, count)
        SELECT campaign_id, country, count(*) FROM supports
        WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL
        GROUP BY campaign_id, country
        ON CONFLICT (campaign_id, country) DO UPDATE SET count = EXCLUDED.count""", [campaign_id])
    cur.execute("""
        UPDATE campaigns SET confirmed_count = (
            SELECT count(*) FROM supports
            WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL)
        WHERE id = %s RETURNING confirmed_count, goal""", [campaign_id, campaign_id])
    count, goal = cur.fetchone()
    # Reached and already notified: the sweeper must not notify (or deliver) again.
    for threshold in sorted({t for t in THRESHOLDS if t <= count} | ({goal} if goal <= count else set())):
        cur.execute("""
            INSERT INTO milestones (campaign_id, threshold, is_goal, reached_at, notified_at)
            VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                    [campaign_id, threshold, threshold == goal, now, now])


def analyze() -> None:
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
