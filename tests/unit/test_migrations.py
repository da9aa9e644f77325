"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from campaign.extensions import db
from campaign.models import Base
from campaign.models.search_index import include_object
from tests.backends import create_pg_database, make_test_app


def _upgrade_and_compare(app):
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            diff = compare_metadata(context, Base.metadata)
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    return diff, tables


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path, redis_url):
    """An app on a new, empty database of each engine in turn (nothing migrated yet)."""
    if request.param == "sqlite":
        return make_test_app(f"sqlite:///{tmp_path / 'migrated.db'}", redis_url, tmp_path)
    name = "gs_" + request.node.originalname.removeprefix("test_")[:40]
    url = create_pg_database(request.getfixturevalue("postgres_server_url"), name)
    return make_test_app(url, redis_url, tmp_path)


def test_migrations_match_models(empty_app):
    diff, tables = _upgrade_and_compare(empty_app)
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def _lookalike_supports_resolved(app):
    """Three supports of one person under look-alike addresses, stored as canonical emails
    were computed before 0014; the migration leaves one counting and recounts."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from campaign.models import Campaign, Comment, CountryCount, Support, utcnow
    from tests.factories import make_campaign

    with app.app_context():
        flask_migrate.upgrade()
        campaign = make_campaign()
        now = utcnow()
        rows = [
            ("alice@gmail.com", now, None),
            ("alice@ｇｍａｉｌ.com", now - timedelta(hours=1), None),
            ("alice@gmail。com", None, None),
            ("bob@example.org", now, None),
        ]
        for email, confirmed, withdrawn in rows:
            db.session.add(
                Support(
                    campaign_id=campaign.id,
                    email=email,
                    name="A",
                    country="GB",
                    email_canonical=email.lower(),
                    confirmed_at=confirmed,
                    withdrawn_at=withdrawn,
                )
            )
        db.session.add(CountryCount(campaign_id=campaign.id, country="GB", count=3))
        db.session.add(Comment(campaign_id=campaign.id, user_id=campaign.organiser_id, body="**Yes**"))
        db.session.execute(update(Campaign).values(confirmed_count=3))
        db.session.commit()
        flask_migrate.downgrade(revision="0013")
        flask_migrate.upgrade()
        db.session.expire_all()
        supports = {s.email: s for s in db.session.execute(select(Support)).scalars()}
        keeper = supports["alice@ｇｍａｉｌ.com"]  # the earliest confirmed
        assert keeper.email_canonical == "alice@gmail.com" and keeper.counts
        for email in ("alice@gmail.com", "alice@gmail。com"):
            assert supports[email].withdrawn_at is not None
            assert f"support {keeper.id}" in supports[email].withdrawn_reason
        assert supports["bob@example.org"].counts
        campaign = db.session.get(Campaign, campaign.id)
        assert campaign.confirmed_count == 2
        assert db.session.get(CountryCount, (campaign.id, "GB")).count == 2
        comment = db.session.execute(select(Comment)).scalar_one()
        assert comment.body_html == "<p><strong>Yes</strong></p>\n"
        db.session.remove()
        db.engine.dispose()


def test_lookalike_addresses_are_resolved(empty_app):
    _lookalike_supports_resolved(empty_app)


def test_search_title_vector_and_words_down_and_up_on_postgresql(tmp_path, redis_url, postgres_server_url):
    """0022 fills the title vector and the word list from what is there, and its downgrade
    gives back 0018's index (the trigram index on titles, the trigger without the title)."""
    from sqlalchemy import text

    from tests.factories import make_campaign

    url = create_pg_database(postgres_server_url, "groundswell_search_0022")
    app = make_test_app(url, redis_url, tmp_path)
    with app.app_context():
        flask_migrate.upgrade(revision="0018")
        make_campaign(title="Fair coffee for growers")
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT title_vector IS NOT NULL FROM campaigns")).scalar_one()
            words = set(conn.execute(text("SELECT word FROM search_words")).scalars())
            assert {"fair", "coffee", "growers"} <= words
        flask_migrate.downgrade(revision="0018")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("campaigns")}
            indexes = {i["name"] for i in inspect(conn).get_indexes("campaigns")}
            assert "title_vector" not in columns and "ix_campaigns_title_trgm" in indexes
            assert "search_words" not in inspect(conn).get_table_names()
            conn.execute(text("UPDATE campaigns SET title = 'Fair tea for growers'"))
            assert conn.execute(
                text("SELECT search_vector @@ to_tsquery('groundswell_english', 'tea') FROM campaigns")
            ).scalar_one()
            conn.rollback()
        flask_migrate.upgrade()
        db.engine.dispose()


def test_sqlite_word_list_down_and_up(tmp_path, redis_url):
    """0025 fills SQLite's word list and its trigrams from what is there, its triggers keep
    them in step, and its downgrade leaves 0022's schema (nothing to do on PostgreSQL)."""
    from sqlalchemy import text

    from tests.factories import make_brand, make_campaign

    app = make_test_app(f"sqlite:///{tmp_path / 'migrated.db'}", redis_url, tmp_path)
    with app.app_context():
        flask_migrate.upgrade(revision="0022")
        make_campaign(title="Fair coffee for growers", brand=make_brand("Nestlé"))
        flask_migrate.upgrade()
        make_campaign(title="Protect hedgehogs")
        with db.engine.connect() as conn:
            words = set(conn.execute(text("SELECT word FROM search_words")).scalars())
            assert {"fair", "coffee", "growers", "nestle", "protect", "hedgehogs"} <= words
            assert conn.execute(
                text("SELECT word FROM search_words_trigrams WHERE search_words_trigrams MATCH '\"hog\"'")
            ).scalars().all() == ["hedgehogs"]
        flask_migrate.downgrade(revision="0022")
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert not {t for t in tables if t.startswith("search_words")}
        make_campaign(title="Still searchable")
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            assert "searchable" in set(conn.execute(text("SELECT word FROM search_words")).scalars())
        db.session.remove()
        db.engine.dispose()


def _owed_emails_down_and_up(app):
    """0027 moves the confirmation emails owed (claims and all) from their supports into
    ``confirmations_owed``; its downgrade moves them back; nothing owed is lost either way."""
    from datetime import timedelta

    from sqlalchemy import select, text

    from campaign.models import ConfirmationOwed, Support, utcnow
    from tests.factories import make_campaign

    with app.app_context():
        flask_migrate.upgrade()
        campaign = make_campaign()
        now = utcnow().replace(microsecond=0)
        claimed = now - timedelta(seconds=30)
        ids = []
        for n in range(3):
            support = Support(
                campaign_id=campaign.id,
                email=f"s{n}@example.org",
                email_canonical=f"s{n}@example.org",
                name="S",
                country="GB",
            )
            db.session.add(support)
            db.session.flush()
            ids.append(support.id)
        db.session.add_all(
            [
                ConfirmationOwed(support_id=ids[0], owed_at=now),
                ConfirmationOwed(support_id=ids[1], owed_at=now, claimed_at=claimed),
            ]
        )
        db.session.commit()
        flask_migrate.downgrade(revision="0026")
        marks = db.session.execute(
            text(
                "SELECT id, confirmation_owed_at IS NOT NULL, confirmation_claimed_at IS NOT NULL"
                " FROM supports"
            )
        ).all()
        db.session.commit()
        assert sorted(tuple(row) for row in marks) == [(ids[0], 1, 0), (ids[1], 1, 1), (ids[2], 0, 0)]
        flask_migrate.upgrade()
        db.session.expire_all()
        rows = (
            db.session.execute(select(ConfirmationOwed).order_by(ConfirmationOwed.support_id)).scalars().all()
        )
        assert [(r.support_id, r.owed_at, r.claimed_at) for r in rows] == [
            (ids[0], now, None),
            (ids[1], now, claimed),
        ]
        db.session.remove()
        db.engine.dispose()


def test_owed_emails_down_and_up(empty_app):
    _owed_emails_down_and_up(empty_app)


def _daily_counts_filled(app):
    """0029 fills the counts per day from the supports, less the deltas still waiting (given
    today), so that the fold then leaves exactly ``COUNT(*)`` per day; its downgrade drops them."""
    from datetime import timedelta

    from sqlalchemy import select, text

    from campaign.models import DailyCount, Support, day_of, utcnow
    from campaign.services.counting import fold_counts
    from tests.factories import make_campaign

    with app.app_context():
        flask_migrate.upgrade()
        campaign_id = make_campaign().id
        now = utcnow()
        earlier = now - timedelta(days=2)
        confirmed = [now, now, now, earlier, earlier, earlier, None]
        for n, at in enumerate(confirmed):
            db.session.add(
                Support(
                    campaign_id=campaign_id,
                    email=f"s{n}@example.org",
                    email_canonical=f"s{n}@example.org",
                    name="S",
                    country="GB",
                    confirmed_at=at,
                    withdrawn_at=now if n == 5 else None,  # confirmed earlier, withdrawn since
                )
            )
        db.session.commit()
        flask_migrate.downgrade(revision="0028")
        with db.engine.begin() as conn:
            assert "daily_counts" not in inspect(conn).get_table_names()
            # One of today's confirmations, not folded yet, as 0028 wrote its delta.
            conn.execute(
                text("INSERT INTO count_deltas (campaign_id, country, delta, spend) VALUES (:c, 'GB', 1, 0)"),
                {"c": campaign_id},
            )
        flask_migrate.upgrade()

        def days():
            rows = db.session.execute(select(DailyCount.day, DailyCount.count)).all()
            db.session.commit()
            return dict(rows)

        assert days() == {day_of(now): 2, day_of(earlier): 2}
        assert fold_counts()[0] == 1
        assert days() == {day_of(now): 3, day_of(earlier): 2}
        db.session.remove()
        db.engine.dispose()


def test_daily_counts_filled(empty_app):
    _daily_counts_filled(empty_app)
