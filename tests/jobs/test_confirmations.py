"""Confirmation emails are owed in the support's row and sent in batches by the dispatcher:
each once, over one SMTP connection, and none lost when Redis loses the dispatcher."""

from __future__ import annotations

import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser

import pytest
import redis
from sqlalchemy import delete, func, literal_column, select

from campaign import mail
from campaign import outbox as work
from campaign.extensions import db
from campaign.jobs.supports import (
    claim_owed_confirmations,
    dispatch_confirmations,
    send_owed_confirmations,
    send_support_confirmation,
)
from campaign.jobs.sweeper import sweep_job
from campaign.mail import Email, receipt_message_id
from campaign.models import ConfirmationOwed, MailReceipt, Support
from campaign.queue import get_queue, redis_connection
from campaign.services import supports as service
from tests.factories import make_campaign
from tests.helpers import Collector, Sink, without_link_times


def sign_many(campaign, count: int, prefix: str = "p") -> list[int]:
    return [
        service.add_support(
            campaign.id, name=f"P {n}", email=f"{prefix}{n}@example.org", country="GB"
        ).support_id
        for n in range(count)
    ]


def owed() -> int:
    db.session.commit()
    return db.session.execute(select(func.count()).select_from(ConfirmationOwed)).scalar_one()


def test_the_dispatcher_sends_each_owed_email_once_even_run_twice(app, run_jobs, outbox):
    petition = make_campaign()
    ids = sign_many(petition, 5)
    # Two dispatchers queued for the same emails (and a third asked by the signatures).
    get_queue("high").enqueue(dispatch_confirmations, "again-1", job_id="confirmations-again-1")
    get_queue("high").enqueue(dispatch_confirmations, "again-2", job_id="confirmations-again-2")
    run_jobs()
    assert sorted(m["To"] for m in outbox()) == sorted(f"p{n}@example.org" for n in range(5))
    assert owed() == 0
    keys = set(db.session.execute(select(MailReceipt.key)).scalars())
    assert keys == {f"confirm-support:{i}:1" for i in ids}
    # Run again, directly and through the queue: nothing more is sent.
    assert dispatch_confirmations("once-more") == 0
    get_queue("high").enqueue(dispatch_confirmations, "again-3", job_id="confirmations-again-3")
    run_jobs()
    assert len(outbox()) == 5
    # Each email's Message-ID is its receipt's, the same on any resend.
    assert {m["Message-ID"] for m in outbox()} == {receipt_message_id(k) for k in keys}


def test_two_dispatchers_at_once_never_claim_one_email_twice(app, database):
    petition = make_campaign()
    sign_many(petition, 40)
    db.session.commit()

    def claim() -> list[int]:
        with app.app_context():
            _, rows = claim_owed_confirmations(15)
            return [row.id for row in rows]

    with ThreadPoolExecutor(2) as pool:
        claims = list(pool.map(lambda _: claim(), range(4)))
    taken = [i for ids in claims for i in ids]
    assert len(taken) == 40 and len(set(taken)) == 40


def _standing() -> bytes | None:
    return redis_connection().get(work.CONFIRMATIONS_REQUESTED)


@contextmanager
def _dispatching(app, petition, signatures: int, token: str):
    """``signatures`` supports of ``petition`` signed, the dispatcher they asked for taken
    off the queue, and one run under ``token`` in another thread until its emails are sent:
    yields its future (the emails it sent)."""
    sign_many(petition, signatures)
    queue = get_queue("high")
    assert queue.count == 1  # the first signature asked for a dispatcher
    queue.empty()
    db.session.commit()

    def dispatch() -> int:
        with app.app_context():
            return dispatch_confirmations(token)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(dispatch)
        _wait_until(lambda: owed() == 0)
        yield running


def _wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.app_config(CONFIRMATION_DISPATCH_SECONDS=0.5)
def test_one_dispatcher_runs_at_a_time_holding_the_request_until_idle(app, outbox):
    """While a dispatcher runs, its request stands (renewed past the half second a request
    lasts), so signatures meanwhile ask for no other; once nothing was owed for that long
    it stops and lets go, and the next signature asks for a new one."""
    petition = make_campaign()
    queue = get_queue("high")
    with _dispatching(app, petition, 3, "running") as running:
        for n in range(4):  # over a second: twice the time a request stands
            time.sleep(0.25)
            assert _standing() == b"running"
            sign_many(petition, 1, prefix=f"q{n}-")
        assert queue.count == 0  # none asked for another dispatcher
        assert running.result(timeout=10) == 7  # every email, by this one
    assert owed() == 0 and len(outbox()) == 7
    assert _standing() is None  # let go as it stopped
    sign_many(petition, 1, prefix="after-")
    assert queue.count == 1 and _standing() not in (None, b"running")


@pytest.mark.app_config(CONFIRMATION_DISPATCH_SECONDS=5)
def test_a_dispatcher_that_finds_a_newer_one_asked_stops_and_leaves_it_the_request(app, outbox):
    with _dispatching(app, make_campaign(), 2, "older") as running:
        assert _standing() == b"older"  # it stays, idle, for up to 5 s
        redis_connection().set(work.CONFIRMATIONS_REQUESTED, "newer", px=5000)  # its request lapsed
        assert running.result(timeout=2) == 2  # at its next look, long before 5 s
    assert _standing() == b"newer"


@pytest.mark.app_config(CONFIRMATION_DISPATCH_SECONDS=1, CONFIRMATION_DISPATCHER_SECONDS=0.5)
def test_a_dispatcher_that_ran_its_time_hands_over_to_a_new_one_after_a_batch(app, outbox, run_jobs):
    """However long a surge, a dispatcher's job ends within RQ's timeout: a batch sent after
    its time, it sets a successor's request, enqueues it and stops, with nothing claimed."""
    petition = make_campaign()
    queue = get_queue("high")
    with _dispatching(app, petition, 2, "first") as running:
        time.sleep(0.6)
        sign_many(petition, 1, prefix="later-")  # its request stands: nobody else asked
        assert running.result(timeout=5) == 3
        successor = _standing()
        assert successor not in (None, b"first")
        assert queue.job_ids == [f"confirmations-{successor.decode()}"]
    assert owed() == 0  # nothing claimed is left owed
    sign_many(petition, 1, prefix="last-")  # the successor's request stands: nobody asks
    assert queue.count == 1
    run_jobs()  # the successor sends it, then stops once idle for a second
    assert owed() == 0 and len(outbox()) == 4


@pytest.mark.app_config(SWEEP_AFTER_SECONDS=0)
def test_a_dispatcher_lost_with_redis_is_replaced_by_the_sweeper(app, run_jobs, outbox):
    petition = make_campaign()
    sign_many(petition, 3)
    redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()  # the dispatcher and its request gone
    assert run_jobs() == 0 and outbox() == []
    assert owed() == 3
    assert sweep_job() == 1  # one dispatcher for all of them
    run_jobs()
    assert len(outbox()) == 3 and owed() == 0
    assert sweep_job() == 0


@pytest.mark.app_config(CONFIRMATION_CLAIM_SECONDS=0, SWEEP_AFTER_SECONDS=0)
def test_a_batch_whose_worker_died_is_sent_again_with_the_same_message_ids(app, run_jobs, outbox):
    petition = make_campaign()
    ids = sign_many(petition, 2)
    get_queue("high").empty()
    # A worker claimed the batch, then died before marking it sent.
    _, rows = claim_owed_confirmations(10)
    assert sorted(row.id for row in rows) == ids
    assert owed() == 2
    assert sweep_job() == 1
    run_jobs()
    assert len(outbox()) == 2 and owed() == 0
    assert {m["Message-ID"] for m in outbox()} == {receipt_message_id(f"confirm-support:{i}:1") for i in ids}


class ConnectionCounter(Collector):
    """Keeps every envelope and the client address and port (one per connection) it came by."""

    def __init__(self):
        super().__init__()
        self.peers = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


def test_a_batch_is_sent_over_one_smtp_connection(app, smtp_server):
    controller, handler = smtp_server
    counter = ConnectionCounter()
    controller.handler = counter
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    petition = make_campaign()
    sign_many(petition, 12)
    claimed, sent = send_owed_confirmations(50)
    assert (claimed, sent) == (12, 12)
    assert len(counter.envelopes) == 12
    assert len(set(counter.peers)) == 1  # one connection for the batch
    assert owed() == 0 and db.session.query(MailReceipt).count() == 12


@pytest.mark.app_config(CONFIRMATION_BATCH=4)
def test_the_dispatcher_takes_batch_after_batch_until_none_is_owed(app, smtp_server):
    controller, handler = smtp_server
    counter = ConnectionCounter()
    controller.handler = counter
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    petition = make_campaign()
    sign_many(petition, 10)
    assert dispatch_confirmations("all") == 10
    assert len(counter.envelopes) == 10
    assert len(set(counter.peers)) == 1  # one connection for the three batches (4, 4, 2)
    assert owed() == 0


class PipeliningCounter(ConnectionCounter):
    """Offers PIPELINING in its EHLO reply (aiosmtpd reads each command in order, as RFC 2920
    asks of a server, but does not say so itself)."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses


def _parsed(envelopes) -> dict:
    return {m["To"]: m for m in (BytesParser(policy=policy.default).parsebytes(e.content) for e in envelopes)}


@pytest.mark.parametrize("handler", [ConnectionCounter, PipeliningCounter], ids=["one-by-one", "pipelined"])
def test_the_dispatcher_sends_each_email_as_the_email_package_wrote_it(app, smtp_server, handler):
    """The dispatcher's hand-built bytes (pipelined or not) parse to what the per-support job
    sent with the `email` package: the same headers, Message-ID and bodies, in each language."""
    controller, _ = smtp_server
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    petition = make_campaign(title="Café justo — «señal» para todos")
    ids = sign_many(petition, 3)
    db.session.get(Support, ids[1]).locale = "es"
    db.session.commit()
    # Before: the per-support job, which builds each message with the ``email`` package.
    controller.handler = alone = Collector()
    for support_id in ids:
        assert send_support_confirmation(support_id, 1)
    db.session.execute(delete(MailReceipt))  # the same emails are owed again
    db.session.commit()
    # Now: the dispatcher's own bytes.
    controller.handler = batch = handler()
    assert dispatch_confirmations("compare") == 3
    before, sent = _parsed(alone.envelopes), _parsed(batch.envelopes)
    assert len(sent) == 3 and sent.keys() == before.keys()
    for to, ours in sent.items():
        reference = before[to]
        for name in ("From", "To", "Subject", "Message-ID", "MIME-Version"):
            assert str(ours[name]) == str(reference[name]), name
        assert ours.get_content_type() == reference.get_content_type() == "multipart/alternative"
        for part in ("plain", "html"):
            body = ours.get_body((part,)).get_content()
            assert without_link_times(body) == without_link_times(
                reference.get_body((part,)).get_content()
            ), part
    subjects = sorted(str(m["Subject"]) for m in sent.values())
    assert subjects[0].startswith("Confirm your signature: Café") and subjects[-1].startswith("Confirma")
    assert len(set(batch.peers)) == 1


def test_a_batch_cut_short_marks_what_left_and_leaves_the_rest_owed_in_any_language_order(app, smtp_server):
    controller, _ = smtp_server
    controller.handler = sink = Sink(drop_after=2)  # then the server goes away
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    petition = make_campaign()
    ids = sign_many(petition, 4)
    for support_id in ids[1::2]:  # the batch goes a language at a time, in either order
        db.session.get(Support, support_id).locale = "es"
    db.session.commit()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_owed_confirmations(10)
    english, spanish = ({f"p{n}@example.org" for n in pair} for pair in ((0, 2), (1, 3)))
    taken = {to for to, _ in sink.taken}
    assert taken in (english, spanish)  # the first language's two, then the server went
    assert set(db.session.execute(select(MailReceipt.recipient)).scalars()) == taken
    still_owed = select(ConfirmationOwed.support_id).where(ConfirmationOwed.claimed_at.is_(None))
    left = set(ids[1::2]) if taken == english else set(ids[0::2])
    assert owed() == 2 and set(db.session.execute(still_owed).scalars()) == left


def test_a_support_confirmed_or_withdrawn_before_its_email_gets_none(app, run_jobs, outbox):
    petition = make_campaign()
    first, second, third = sign_many(petition, 3)
    get_queue("high").empty()
    service.withdraw(first)
    db.session.get(Support, second).confirmed_at = db.func.now()
    db.session.commit()
    assert dispatch_confirmations("x") == 1
    assert [m["To"] for m in outbox()] == ["p2@example.org"]
    assert owed() == 0


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_a_mailbox_refused_for_good_and_an_email_sent_before_are_not_owed_again(app, smtp_server, pipelining):
    controller, _ = smtp_server
    controller.handler = sink = Sink(pipelining=pipelining, refuse={"p1@example.org"})
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    petition = make_campaign()
    ids = sign_many(petition, 4)
    # The per-support job of before the dispatcher sent the third one already.
    db.session.add(MailReceipt(key=f"confirm-support:{ids[2]}:1", recipient="p2@example.org"))
    db.session.commit()
    assert send_owed_confirmations(10) == (4, 2)
    assert sorted(to for to, _ in sink.taken) == ["p0@example.org", "p3@example.org"]
    receipts = dict(db.session.execute(select(MailReceipt.key, MailReceipt.error)).all())
    assert receipts == {
        f"confirm-support:{ids[0]}:1": None,
        f"confirm-support:{ids[1]}:1": "recipient refused (550)",
        f"confirm-support:{ids[2]}:1": None,
        f"confirm-support:{ids[3]}:1": None,
    }
    assert owed() == 0
    assert (
        db.session.execute(
            select(func.count()).select_from(MailReceipt).where(MailReceipt.sent_at.is_(None))
        ).scalar_one()
        == 0
    )
    assert send_owed_confirmations(10) == (0, 0) and len(sink.taken) == 2


@pytest.mark.parametrize("handler", [ConnectionCounter, PipeliningCounter], ids=["one-by-one", "pipelined"])
def test_lines_that_start_with_a_dot_arrive_as_they_were_written(app, smtp_server, handler):
    controller, _ = smtp_server
    controller.handler = kept = handler()
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    texts = [".\n.starts with a dot\nthen none\n..two\n", "no dot at a line's start.\n", ".x"]
    emails = [
        (str(n), Email(to=f"d{n}@example.org", subject="s", text=t, html=f"<p>{t}</p>"))
        for n, t in enumerate(texts)
    ]
    assert [error for _, error in mail.send_each(emails)] == [None, None, None]
    got = {
        m["To"]: m for m in (BytesParser(policy=policy.default).parsebytes(e.content) for e in kept.envelopes)
    }
    for n, text in enumerate(texts):
        plain = got[f"d{n}@example.org"].get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert plain == (text if text.endswith("\n") else text + "\n"), n


class Picky(ConnectionCounter):
    """Refuses one message for good after its content (554), and one recipient for now (451)."""

    def __init__(self, pipelining: bool):
        super().__init__()
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == "later@example.org":
            return "451 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if envelope.rcpt_tos == ["spam@example.org"]:
            return "554 Rejected"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_a_message_refused_for_good_lets_the_next_go_and_a_refusal_for_now_stops_the_batch(
    app, smtp_server, pipelining
):
    controller, _ = smtp_server
    controller.handler = picky = Picky(pipelining)
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"

    def email(to: str) -> tuple[str, Email]:
        return to, Email(to=to, subject="s", text=f"for {to}", html=f"<p>for {to}</p>")

    batch = [email("a@example.org"), email("spam@example.org"), email("b@example.org")]
    assert list(mail.one_connection(lambda: list(mail.send_each(batch)))()) == [
        ("a@example.org", None),
        ("spam@example.org", "message refused (554)"),
        ("b@example.org", None),
    ]
    assert [e.rcpt_tos for e in picky.envelopes] == [["a@example.org"], ["b@example.org"]]
    assert len(set(picky.peers)) == 1  # the refusal reset the transaction, the connection went on
    taken = []
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        for key, error in mail.send_each(
            [email("c@example.org"), email("later@example.org"), email("d@example.org")]
        ):
            taken.append((key, error))
    assert taken == [("c@example.org", None)]  # d's was never sent: the batch is retried
    assert [e.rcpt_tos[0] for e in picky.envelopes] == ["a@example.org", "b@example.org", "c@example.org"]


def test_an_email_a_job_sent_before_the_dispatcher_is_not_sent_again(app, outbox):
    """The claim tells, row by row, whose receipt exists (a per-support job from before the
    dispatcher sent it): those are not sent again but no longer owed; the others go."""
    petition = make_campaign()
    ids = sign_many(petition, 4)
    for support_id in ids[:2]:
        assert send_support_confirmation(support_id, 1)
    assert len(outbox()) == 2
    claimed_at, rows = claim_owed_confirmations(10)
    assert {row.id: row.sent_before for row in rows} == {
        ids[0]: True,
        ids[1]: True,
        ids[2]: False,
        ids[3]: False,
    }
    db.session.execute(ConfirmationOwed.__table__.update().values(claimed_at=None))
    db.session.commit()
    assert send_owed_confirmations(10) == (4, 2)
    assert sorted(m["To"] for m in outbox()) == sorted(f"p{n}@example.org" for n in (0, 1, 2, 3))
    assert owed() == 0


def _versions(ids: list[int]) -> list:
    """The row versions (PostgreSQL's ``xmin``) of these supports and of their owed emails' rows."""
    return [
        db.session.execute(
            select(table.c[key], literal_column("xmin")).where(table.c[key].in_(ids)).order_by(table.c[key])
        ).all()
        for table, key in ((Support.__table__, "id"), (ConfirmationOwed.__table__, "support_id"))
    ]


def test_a_claimed_batch_is_skipped_by_another_dispatcher_and_owed_again_when_its_claim_dies(app):
    """PostgreSQL: a dispatcher's batch is claimed by its rows' locks, with nothing written
    (no row version of ``supports``); another dispatcher meanwhile takes only the other
    emails, and once the first one's transaction ends without its marks (a worker killed)
    its emails are owed and claimable at once. SQLite: the claim is written and committed;
    the other dispatcher skips it too, and it lapses after ``CONFIRMATION_CLAIM_SECONDS``."""
    from campaign.jobs.supports import _holds

    petition = make_campaign()
    ids = sign_many(petition, 5)
    db.session.commit()
    holds = _holds()
    first_claimed = []

    def first_dispatcher(step):
        with app.app_context():
            claimed_at, rows = claim_owed_confirmations(3, hold=holds)
            first_claimed.extend(row.id for row in rows)
            step.wait(timeout=10)  # while it "sends"
            db.session.rollback()  # then dies: no receipts, no marks

    import threading

    step = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(first_dispatcher, step)
        _wait_until(lambda: len(first_claimed) == 3)
        version = _versions(first_claimed) if holds else None
        _, rows = claim_owed_confirmations(10, hold=holds)
        assert sorted(row.id for row in rows) == sorted(set(ids) - set(first_claimed))
        db.session.rollback()
        step.set()
        first.result(timeout=10)
    assert first_claimed == ids[:3]  # oldest first
    _, rows = claim_owed_confirmations(10, hold=holds)
    if holds:
        # Owed, unclaimed, at once; and the claim never wrote them.
        assert sorted(row.id for row in rows) == sorted(ids)
        assert _versions(first_claimed) == version
    else:
        assert rows == []  # both claims stand (committed) until they lapse
    db.session.rollback()
