"""Signing is one SQL statement and one Redis round trip: the support, its campaign's check
and the confirmation email it owes are written together, and refusals keep their words."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from datetime import timedelta
from unittest.mock import patch

import psycopg
import pytest
import redis
from sqlalchemy import event, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from campaign import outbox
from campaign.extensions import db
from campaign.models import Campaign, CampaignState, CampaignTerms, ConfirmationOwed, Support, utcnow
from campaign.queue import get_queue, redis_connection
from campaign.services import supports as service
from tests.factories import make_campaign
from tests.helpers import csrf_token, post_form

SIGN = {"name": "Ada Lovelace", "email": "ada@example.org", "country": "GB", "is_public": "y"}


def waiting_marks() -> int:
    return int(redis_connection().get(outbox.CONFIRMATIONS_WAITING) or 0)


@pytest.mark.parametrize(
    ("state", "closed_by_date", "words"),
    [
        (CampaignState.CLOSED, False, "has closed and no longer takes signatures"),
        (CampaignState.WON, False, "has closed and no longer takes signatures"),
        (CampaignState.OPEN, True, "has closed and no longer takes signatures"),
        (CampaignState.DRAFT, False, "not published"),
        (CampaignState.PENDING, False, "not published"),
        (CampaignState.HIDDEN, False, "not published"),
        (CampaignState.REJECTED, False, "not published"),
    ],
)
def test_the_statement_refuses_a_closed_or_private_campaign_in_the_same_words(
    app, state, closed_by_date, words
):
    campaign = make_campaign(state=state)
    if closed_by_date:
        campaign.closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    # Refused from what the caller loaded (no query) ...
    with pytest.raises(service.SupportRefused, match=words):
        service.add_support(campaign.id, name="Ada", email="ada@example.org", country="GB")
    db.session.rollback()
    # ... and by the statement itself when the caller's copy still says open (it closed,
    # or was taken down, after the page loaded it): the same words.
    loaded = db.session.get(Campaign, campaign.id)
    set_committed_value(loaded, "state", CampaignState.OPEN)
    set_committed_value(loaded, "closes_at", None)
    with pytest.raises(service.SupportRefused, match=words):
        service.add_support(campaign.id, name="Ada", email="ada@example.org", country="GB")
    db.session.rollback()
    # ... and when the terms the sign form keeps for a second still say open.
    terms = CampaignTerms(campaign.id, campaign.kind, CampaignState.OPEN, None, campaign.title)
    with pytest.raises(service.SupportRefused, match=words):
        service.add_support(campaign.id, name="Ada", email="ada@example.org", country="GB", terms=terms)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Support)).scalar_one() == 0
    # Nothing owed, nobody asked: no mark and no job.
    assert waiting_marks() == 0 and get_queue("high").count == 0


@pytest.mark.app_config(HOT_CACHE_SECONDS=60.0)
@pytest.mark.parametrize(
    ("state", "words"),
    [
        (CampaignState.CLOSED, "has closed and no longer takes signatures"),
        (CampaignState.HIDDEN, "not published"),
    ],
)
def test_the_sign_form_kept_open_terms_yet_the_database_refuses(app, client, state, words):
    campaign = make_campaign()
    page = f"/{campaign.blueprint}/{campaign.slug}"
    first = post_form(client, f"{page}/support", SIGN)  # the terms are kept: open
    assert first.status_code == 303
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(state=state))
    db.session.commit()
    refused = post_form(client, f"{page}/support", {**SIGN, "email": "bo@example.org"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith(page)
    with client.session_transaction() as sess:
        assert any(words in message for _, message in sess["_flashes"])
    assert db.session.execute(select(func.count()).select_from(Support)).scalar_one() == 1


def test_an_unknown_campaign_is_refused(app):
    with pytest.raises(service.SupportRefused, match="not published"):
        service.add_support(999_999, name="Ada", email="ada@example.org", country="GB")


def owed_email(support_id: int) -> tuple[bool, object]:
    """Whether the support's confirmation email is owed, and its claim's time."""
    row = db.session.get(ConfirmationOwed, support_id, populate_existing=True)
    return (row is not None, row.claimed_at if row else None)


def test_the_support_and_its_owed_email_are_written_together(app):
    campaign = make_campaign()
    result = service.add_support(campaign.id, name="Ada", email="ada@example.org", country="GB")
    support = db.session.get(Support, result.support_id)
    assert owed_email(support.id) == (True, None)  # owed, not claimed
    assert support.confirmation_sends == 1 and support.confirmed_at is None
    assert waiting_marks() == 1
    # The same person again: nothing new stored, the link owed again (once more asked for).
    again = service.add_support(campaign.id, name="Ada", email="ADA@example.org", country="GB")
    assert (again.support_id, again.outcome) == (result.support_id, service.Outcome.RESENT)
    db.session.expire_all()
    assert db.session.get(Support, result.support_id).confirmation_sends == 2
    assert owed_email(support.id) == (True, None)
    assert waiting_marks() == 2


@contextmanager
def counted(app):
    """The SQL statements (with each commit) and the Redis round trips made inside it. On
    PostgreSQL as its driver sends them (a signature's statement goes to psycopg without
    SQLAlchemy's connection around it), on SQLite as the engine's events see them. Each call
    still goes to the real driver and the real Redis."""
    statements: list[str] = []
    round_trips: list[bytes] = []

    def seen(statement: str, autocommit: bool | None) -> None:
        statements.append(statement.split()[0].upper())
        if autocommit is True:  # psycopg sends no BEGIN before it
            statements.append("(autocommit)")

    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit
    send = redis.connection.AbstractConnection.send_packed_command

    def on_execute(cursor, query, *args, **kwargs):
        seen(query if isinstance(query, str) else str(query), cursor.connection.autocommit)
        return execute(cursor, query, *args, **kwargs)

    def on_commit(connection):
        statements.append("COMMIT")
        return commit(connection)

    def on_cursor(conn, cursor, statement, parameters, context, executemany):
        seen(statement, None)

    def on_engine_commit(conn):
        statements.append("COMMIT")

    def counting(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else command
        round_trips.append(packed[:80])
        return send(self, command, check_health)

    with ExitStack() as stack:
        if db.engine.dialect.name == "postgresql":
            stack.enter_context(patch.object(psycopg.Cursor, "execute", on_execute))
            stack.enter_context(patch.object(psycopg.Connection, "commit", on_commit))
        else:
            for name, listener in (("before_cursor_execute", on_cursor), ("commit", on_engine_commit)):
                event.listen(db.engine, name, listener)
                stack.callback(event.remove, db.engine, name, listener)
        stack.enter_context(
            patch.object(redis.connection.AbstractConnection, "send_packed_command", counting)
        )
        yield statements, round_trips


#: The statements that write a signature owed its email, by their first word, on each engine.
SIGNING = {"postgresql": ["WITH"], "sqlite": ["INSERT", "INSERT"]}


# As production runs: the limit on (not reached), whether any abuse rule exists read once
# a second (not per signature), one request for the dispatcher standing a while.
@pytest.mark.app_config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_SUPPORT="100 per minute",
    HOT_CACHE_SECONDS=60.0,
    CONFIRMATION_DISPATCH_SECONDS=60.0,
)
def test_a_signature_is_one_statement_and_one_redis_round_trip(app, client):
    campaign = make_campaign()
    page = f"/{campaign.blueprint}/{campaign.slug}"
    # Warm: the script loaded into Redis, the statement built, the rules' absence read.
    post_form(client, f"{page}/support", {**SIGN, "email": "warm@example.org"}, page=page)
    redis_connection().delete(outbox.CONFIRMATIONS_REQUESTED)
    get_queue("high").empty()
    token = csrf_token(client, page)
    first = {**SIGN, "csrf_token": token}
    with counted(app) as (statements, round_trips):
        response = client.post(f"{page}/support", data=first)
    assert response.status_code == 303
    # The campaign's terms are read once a second (the warm request read them); the service
    # writes with one statement, which checks the campaign is open and, on PostgreSQL, also
    # writes the email owed (an INSERT in a WITH), alone, in autocommit (no BEGIN or COMMIT
    # sent); on SQLite, which takes no INSERT in a WITH, the email owed is a second INSERT in
    # its transaction.
    assert "UPDATE" not in statements
    signing = SIGNING[db.engine.dialect.name]
    alone = ["(autocommit)"] if db.engine.dialect.name == "postgresql" else []
    assert [s for s in statements if s not in ("BEGIN", "COMMIT")] == [*signing, *alone]
    assert statements.count("COMMIT") == (0 if alone else 1)  # in autocommit: nothing to commit
    # This one asked for the dispatcher (no request stood): its script, then RQ's enqueue
    # (at most once per CONFIRMATION_DISPATCH_SECONDS for all signatures together).
    assert b"EVALSHA" in round_trips[0]
    assert all(b"rq:" in trip for trip in round_trips[1:]) and len(round_trips) <= 3
    assert get_queue("high").count == 1
    # The next signature within the second asks nobody: one round trip, its script.
    with counted(app) as (statements, round_trips):
        response = client.post(
            f"{page}/support", data={**first, "email": "bo@example.org", "csrf_token": token}
        )
    assert response.status_code == 303
    assert [s for s in statements if s not in ("BEGIN", "COMMIT")] == [*signing, *alone]
    assert len(round_trips) == 1 and b"EVALSHA" in round_trips[0]
    assert get_queue("high").count == 1
    support = db.session.execute(select(Support).filter_by(email="bo@example.org")).scalar_one()
    assert owed_email(support.id)[0] and support.suspect is None


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_SUPPORT="1 per minute")
def test_over_the_limit_a_support_is_held_after_its_one_statement(app):
    campaign = make_campaign()
    first = service.add_support(
        campaign.id, name="Ada", email="ada@example.org", country="GB", ip_address="192.0.2.9"
    )
    second = service.add_support(
        campaign.id, name="Bo", email="bo@example.org", country="GB", ip_address="192.0.2.9"
    )
    assert second.outcome == service.Outcome.PENDING  # the page says nothing different
    db.session.expire_all()
    assert db.session.get(Support, first.support_id).suspect is None
    held = db.session.get(Support, second.support_id)
    assert held.suspect == "rate_limit" and owed_email(held.id)[0]
