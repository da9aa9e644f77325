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
COUNTRIES = [
    ("GB", 30),
    ("DE", 14),
    ("FR", 12),
    ("US", 10),
    ("ES", 6),
    ("IT", 6),
    ("NL", 4),
    ("IE", 3),
    ("SE", 3),
    ("PL", 3),
    ("BE", 2),
    ("PT", 2),
    ("DK", 1),
    ("AT", 1),
    ("FI", 1),
    ("CA", 1),
    ("AU", 1),
]
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
    organiser = User(
        email="organiser@bench.example", name="Bench Organiser", email_verified_at=now, password_hash="!"
    )
    brand = Brand(
        name="Northwind Coffee",
        slug="northwind-coffee",
        approved_at=now,
        contact_email="press@northwind.bench.example",
        website="https://northwind.example",
        description="Coffee shops and supermarket coffee.",
    )
    db.session.add_all([organiser, brand])
    db.session.flush()
    ids, slugs = {}, {}
    for name, goal in goal_of.items():
        slug = f"bench-{name}"
        petition = Petition(
            slug=slug,
            title=f"Northwind Coffee: pay farmers a living income ({name})",
            summary="Publish the supplier list and pay coffee farmers a living income.",
            body=BODY,
            demand="Publish your full supplier list and pay a living income price.",
            organiser_id=organiser.id,
            target_brand_id=brand.id,
            goal=goal,
            state=CampaignState.OPEN,
            created_at=now - timedelta(days=40),
            submitted_at=now - timedelta(days=39),
            published_at=now - timedelta(days=38),
        )
        db.session.add(petition)
        db.session.flush()
        ids[name], slugs[name] = petition.id, slug
    db.session.commit()
    return Campaigns(organiser.id, ids, slugs)


COPY_COLUMNS = (
    "campaign_id",
    "email",
    "email_canonical",
    "name",
    "is_public",
    "country",
    "consents_to_updates",
    "confirmation_sends",
    "created_at",
    "confirmed_at",
)


def support_email(campaign_name: str, i: int) -> str:
    return f"{campaign_name}.supporter{i}@bench.example"


def bulk_supports(
    campaign_id: int, campaign_name: str, count: int, consent_every: int = 10, pending: bool = False
) -> float:
    """COPY ``count`` confirmed supports into a campaign and fold them into its cached counts.

    Every ``consent_every``-th supporter consents to updates (so a million give 100,000
    recipients for the goal fan-out). ``pending`` supports wait for their confirmation link
    instead (nothing to fold). Commits. Returns the seconds the COPY and the counts took (not
    the VACUUM and ANALYZE that follow).
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
                    copy.write_row(
                        (
                            campaign_id,
                            email,
                            canonical_email(email),
                            f"Supporter {i}",
                            i % 10 != 3,
                            _COUNTRY_CYCLE[i % len(_COUNTRY_CYCLE)],
                            i % consent_every == 0,
                            1,
                            confirmed - timedelta(minutes=5),
                            None if pending else confirmed,
                        )
                    )
            if not pending:
                _fold_seeded(cur, campaign_id, now)
        conn.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _fold_seeded(cur, campaign_id: int, now) -> None:
    """Set the cached counts and milestones as folding the seeded supports would have."""
    cur.execute(
        """
        INSERT INTO country_counts (campaign_id, country, count)
        SELECT campaign_id, country, count(*) FROM supports
        WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL
        GROUP BY campaign_id, country
        ON CONFLICT (campaign_id, country) DO UPDATE SET count = EXCLUDED.count""",
        [campaign_id],
    )
    cur.execute(
        """
        INSERT INTO daily_counts (campaign_id, day, count)
        SELECT campaign_id, (confirmed_at AT TIME ZONE 'UTC')::date, count(*) FROM supports
        WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL
        GROUP BY campaign_id, (confirmed_at AT TIME ZONE 'UTC')::date
        ON CONFLICT (campaign_id, day) DO UPDATE SET count = EXCLUDED.count""",
        [campaign_id],
    )
    cur.execute(
        """
        UPDATE campaigns SET confirmed_count = (
            SELECT count(*) FROM supports
            WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL)
        WHERE id = %s RETURNING confirmed_count, goal""",
        [campaign_id, campaign_id],
    )
    count, goal = cur.fetchone()
    # Reached and already notified: the sweeper must not notify (or deliver) again.
    for threshold in sorted({t for t in THRESHOLDS if t <= count} | ({goal} if goal <= count else set())):
        cur.execute(
            """
            INSERT INTO milestones (campaign_id, threshold, is_goal, reached_at, notified_at)
            VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            [campaign_id, threshold, threshold == goal, now, now],
        )


def vacuum_analyze() -> None:
    """VACUUM and ANALYZE the database once its rows are seeded, before anything is measured.

    Rows copied in by the hundred thousand have their hint bits set and their pages marked
    all-visible by whoever reads or vacuums them first; and that many inserts start
    autovacuum's VACUUM of the table. Left to autovacuum, that work (seconds of the server's
    CPU for a million supports) fell in whichever load ran then: in one surge, during the
    signing, on the side whose turn it was. Done here, no load pays for it."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))


# ---------------------------------------------------------------------------- many campaigns

#: What campaigns are about, and what they ask: titles are made from these, so a word of a
#: query matches a few percent of the campaigns, as on a real site, not all or none.
SUBJECTS = [
    "coffee farmers",
    "cocoa growers",
    "garment workers",
    "delivery riders",
    "warehouse staff",
    "palm oil",
    "plastic packaging",
    "factory farming",
    "cage eggs",
    "child labour",
    "deforestation",
    "river pollution",
    "pesticide use",
    "fast fashion",
    "repairable phones",
    "battery recycling",
    "tax avoidance",
    "living wages",
    "supplier lists",
    "forced labour",
    "microplastics",
    "food waste",
    "animal testing",
    "sugar taxes",
    "data privacy",
    "tracking cookies",
    "recycled cotton",
    "seed patents",
    "bee decline",
    "fishing nets",
    "mining rights",
    "lithium mines",
    "paper straws",
    "refill stations",
    "bottle deposits",
    "union rights",
    "night shifts",
    "gig workers",
    "school meals",
    "antibiotics",
]
VERBS = ["pay", "protect", "stop", "publish", "end", "ban", "fund", "label", "cut", "audit"]
SPANISH = [
    "salarios dignos para las trabajadoras del campo",
    "envases reciclables en tiendas",
    "agricultores de café con precios justos",
    "derechos sindicales para repartidores",
]
FILLER = (
    "Customers have asked for this for years. The company says it cares; this is the "
    "moment to show it, in public, with dates and numbers anyone can check."
)
SYLLABLES = [
    "nor",
    "th",
    "wind",
    "ac",
    "me",
    "glo",
    "bex",
    "tri",
    "ven",
    "sol",
    "mar",
    "ka",
    "lu",
    "ro",
    "zen",
    "pia",
    "dor",
    "fi",
    "qua",
    "lex",
]


def brand_names(count: int) -> list[str]:
    names, n = [], 0
    while len(names) < count:
        a, b, c = (SYLLABLES[(n // k) % len(SYLLABLES)] for k in (1, 7, 53))
        name = (a + b + c).capitalize()
        if name not in names:
            names.append(name)
        n += 1
    return names


def bulk_campaigns(
    organiser_id: int, count: int, start: int = 0, brands: int = 300, won_share: float = 0.1
) -> float:
    """COPY ``count`` public campaigns of every kind (numbered from ``start``; about
    ``won_share`` of them won, a tenth closed, the rest open), their brands (a tenth owned by
    a group) made on the first call, their topics and supporters' countries. The search
    index's triggers fire per row. Commits; returns the seconds taken."""
    import random

    started = time.perf_counter()
    rng = random.Random(start)
    now = utcnow()
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM brands WHERE slug LIKE 'bench-brand-%' ORDER BY id")
            brand_ids = [row[0] for row in cur.fetchall()]
            if not brand_ids:
                names = brand_names(brands)
                for i, name in enumerate(names):
                    parent = brand_ids[(i // 10) % 10] if i >= 10 and i % 10 == 0 else None
                    cur.execute(
                        "INSERT INTO brands (name, slug, description, parent_id, "
                        "email_domains, approved_at, created_at) VALUES "
                        "(%s, %s, '', %s, '', %s, %s) RETURNING id",
                        [name, f"bench-brand-{i}", parent, now, now],
                    )
                    brand_ids.append(cur.fetchone()[0])
                for topic in ("climate", "labour", "animals", "health", "privacy"):
                    cur.execute(
                        "INSERT INTO topics (slug, name, name_es, created_at) VALUES "
                        "(%s, %s, '', %s) ON CONFLICT DO NOTHING",
                        [topic, topic.capitalize(), now],
                    )
            cur.execute("SELECT id FROM topics ORDER BY id")
            topic_ids = [row[0] for row in cur.fetchall()]
            kinds = ["petition", "boycott", "proposal"]
            columns = (
                "kind",
                "slug",
                "title",
                "summary",
                "body",
                "demand",
                "organiser_id",
                "target_brand_id",
                "goal",
                "state",
                "confirmed_count",
                "monthly_spend_total",
                "created_at",
                "updated_at",
                "published_at",
                "closes_at",
                "won_at",
                "closed_at",
                "language",
                "momentum",
            )
            # A bulk load builds the search indexes after the rows, as a restore does (the
            # triggers still fill each row's tsvector).
            rebuilt = (
                {
                    "ix_campaigns_search_vector": "gin (search_vector)",
                    "ix_campaigns_title_vector": "gin (title_vector)",
                }
                if count > 10_000
                else {}
            )
            for index in rebuilt:
                cur.execute(f"DROP INDEX {index}")
            with cur.copy(f"COPY campaigns ({', '.join(columns)}) FROM STDIN") as copy:
                for i in range(start, start + count):
                    spanish = i % 10 == 7
                    subject = rng.choice(SUBJECTS)
                    brand = rng.choice(brand_ids)
                    title = (
                        f"{rng.choice(SPANISH)} ({i})"
                        if spanish
                        else f"{rng.choice(VERBS).capitalize()} {subject}: campaign {i}"
                    )
                    roll = rng.random()
                    state = "won" if roll < won_share else "closed" if roll < won_share + 0.1 else "open"
                    published = now - timedelta(days=rng.uniform(1, 700))
                    closes = (
                        now + timedelta(days=rng.uniform(1, 200))
                        if state == "open" and rng.random() < 0.5
                        else None
                    )
                    copy.write_row(
                        (
                            kinds[i % 3],
                            f"sb-{i}",
                            title[:150],
                            f"We ask for action on {subject}, in public and on time.",
                            f"{title}.\n\n{FILLER}",
                            f"Act on {subject}.",
                            organiser_id,
                            brand,
                            1000,
                            state,
                            rng.randrange(0, 50_000),
                            0,
                            published,
                            published,
                            published,
                            closes,
                            published + timedelta(days=30) if state == "won" else None,
                            published + timedelta(days=60) if state == "closed" else None,
                            "es" if spanish else "en",
                            rng.randrange(0, 500) if state == "open" else 0,
                        )
                    )
            for index, definition in rebuilt.items():
                cur.execute(f"CREATE INDEX {index} ON campaigns USING {definition}")
            cur.execute(
                """INSERT INTO campaign_topics (campaign_id, topic_id)
                           SELECT c.id, (%s::int[])[1 + mod(c.id, %s)] FROM campaigns c
                           WHERE c.slug LIKE %s ON CONFLICT DO NOTHING""",
                [topic_ids, len(topic_ids), "sb-%"],
            )
            cur.execute(
                """INSERT INTO country_counts (campaign_id, country, count)
                           SELECT c.id, (ARRAY['GB','DE','FR','ES','US'])[1 + mod(c.id, 5)],
                                  c.confirmed_count
                           FROM campaigns c WHERE c.slug LIKE %s
                           ON CONFLICT DO NOTHING""",
                ["sb-%"],
            )
        conn.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


#: The shapes of :func:`search_queries`, in turn.
QUERY_SHAPES = ("word", "two words", "phrase", "exclusion", "or", "typo", "Spanish", "brand")


def search_queries(count: int) -> list[str]:
    """Queries like visitors type: words, two words, a phrase, an exclusion, an or, a typo,
    Spanish, a brand name."""
    import random

    rng = random.Random(7)
    typos = ["cofee", "garmnet", "plastik", "deforestaton", "pesticde", "privacy cookis"]
    names = brand_names(300)
    out = []
    for n in range(count):
        subject = rng.choice(SUBJECTS)
        words = subject.split()
        shape = n % len(QUERY_SHAPES)
        out.append(
            [
                words[-1],
                subject,
                f'"{subject}"',
                f"{rng.choice(VERBS)} {words[0]} -{rng.choice(SUBJECTS).split()[0]}",
                f"{words[0]} or {rng.choice(SUBJECTS).split()[0]}",
                rng.choice(typos),
                rng.choice(["trabajadora", "agricultor café", "reciclable", "sindicales"]),
                rng.choice(names).lower(),
            ][shape]
        )
    return out
