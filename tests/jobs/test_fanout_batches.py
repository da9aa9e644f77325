"""A fan-out batch claims its receipts in one statement, sends over one connection (pipelined
where the server offers it) and marks them sent in one statement: a rerun sends nothing
twice, and a batch cut short sends again only what it left unmarked, with the same
Message-IDs."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from campaign.extensions import db
from campaign.jobs import notify
from campaign.jobs.notifications import TOPICS
from campaign.mail import ClaimHeld, Email, receipt_message_id
from campaign.models import FanoutBatch, MailReceipt, Support, utcnow
from campaign.outbox import BATCH_SIZE
from tests.factories import an_object_per_topic, make_campaign, make_user
from tests.helpers import Sink, serve_smtp, without_link_times

ROOT = Path(__file__).resolve().parents[2]


def _supporters(campaign, n: int) -> list[str]:
    """``n`` confirmed supporters who asked for updates, inserted in one statement."""
    now = utcnow()
    rows = [
        {
            "campaign_id": campaign.id,
            "name": f"Supporter {i}",
            "email": f"fan{i}@example.org",
            "email_canonical": f"fan{i}@example.org",
            "country": "GB",
            "consents_to_updates": True,
            "confirmed_at": now,
        }
        for i in range(n)
    ]
    db.session.execute(insert(Support), rows)
    db.session.commit()
    return [row["email"] for row in rows]


def _ids() -> tuple[int, int]:
    return db.session.execute(select(func.min(Support.id), func.max(Support.id))).one()


def _message_ids(campaign_id: int) -> dict[str, str]:
    """recipient -> the Message-ID its receipt gives it."""
    keys = db.session.execute(select(MailReceipt.key, MailReceipt.recipient)).all()
    return {recipient: receipt_message_id(key) for key, recipient in keys}


def _recorder():
    """A cursor hook and the statements that write mail receipts it saw (first words)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if "mail_receipts" in statement and words[0] != "SELECT":
            seen.append(" ".join(words[:4]))

    return seen, record


def test_a_batch_claims_in_one_statement_sends_over_one_connection_and_marks_in_one(app):
    sink = Sink()
    controller = serve_smtp(sink)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = _supporters(petition, 40)
        first, last = _ids()
        seen, record = _recorder()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert notify.send_batch("victory", petition.id, first, last) == 40
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        # One claim of the 40 (with their addresses), one mark of the 40.
        verbs = [" ".join(statement.split()[:3]) for statement in seen]
        assert verbs == ["INSERT INTO mail_receipts", "UPDATE mail_receipts SET"]
        assert seen[1].split()[3].startswith("sent_at=")
        assert sink.connections == 1
        assert sorted(r for r, _ in sink.taken) == sorted(emails)
        ids = _message_ids(petition.id)
        assert all(message_id == ids[r] for r, message_id in sink.taken)
        db.session.expire_all()
        assert db.session.query(MailReceipt).filter(MailReceipt.sent_at.is_(None)).count() == 0
        # The same job again: nothing is claimed, nothing sent, no connection opened.
        assert notify.send_batch("victory", petition.id, first, last) == 0
        assert len(sink.taken) == 40 and sink.connections == 1
    finally:
        controller.stop()


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_a_server_failing_mid_batch_gets_only_the_unmarked_again_with_their_ids(app, pipelining):
    sink = Sink(pipelining=pipelining, drop_after=7, refuse={"fan3@example.org"})
    controller = serve_smtp(sink)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = _supporters(petition, 20)
        first, last = _ids()
        with pytest.raises(Exception, match="closed|421|disconnect"):
            notify.send_batch("victory", petition.id, first, last)
        db.session.rollback()
        assert len(sink.taken) == 7
        receipts = db.session.execute(select(MailReceipt)).scalars().all()
        sent = {r.recipient for r in receipts if r.sent_at is not None and r.error is None}
        assert sent == {r for r, _ in sink.taken}
        refused = [r for r in receipts if r.error]
        assert [(r.recipient, r.error) for r in refused] == [("fan3@example.org", "recipient refused (550)")]
        # The rest are released at once: the retry need not wait for the claim to lapse.
        assert all(r.claimed_at is None for r in receipts if r.sent_at is None)
        sink.drop_after = None
        assert notify.send_batch("victory", petition.id, first, last) == 12  # 20 - 7 - 1 refused
        taken = [r for r, _ in sink.taken]
        assert sorted(taken) == sorted(e for e in emails if e != "fan3@example.org")  # each once
        ids = _message_ids(petition.id)
        assert all(message_id == ids[r] for r, message_id in sink.taken)
        assert sink.connections == 2
    finally:
        controller.stop()


def test_a_pipelined_batch_sends_each_email_once_with_its_receipts_id(app):
    sink = Sink(pipelining=True, refuse={"fan5@example.org", "fan6@example.org"})
    controller = serve_smtp(sink)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = _supporters(petition, 60)
        first, last = _ids()
        assert notify.send_batch("victory", petition.id, first, last) == 58
        assert sink.connections == 1
        refused = {"fan5@example.org", "fan6@example.org"}
        assert sorted(r for r, _ in sink.taken) == sorted(set(emails) - refused)
        ids = _message_ids(petition.id)
        assert all(message_id == ids[r] for r, message_id in sink.taken)
        errors = db.session.execute(select(func.count()).where(MailReceipt.error.is_not(None))).scalar_one()
        assert errors == 2
        assert notify.send_batch("victory", petition.id, first, last) == 0
        assert len(sink.taken) == 58
    finally:
        controller.stop()


_CHILD = """
import json, sys
from tests.backends import make_test_app
from campaign.jobs import notify
args = json.loads(sys.argv[1])
app = make_test_app(args["db"], args["redis"], __import__("pathlib").Path(args["tmp"]), **args["config"])
with app.app_context():
    notify.send_batch(*args["batch"])
"""


def _lapse_claims(lease: int) -> None:
    """Move every claim back by the lease and a second, as if that time had gone by."""
    for receipt in db.session.execute(select(MailReceipt)).scalars():
        receipt.claimed_at -= timedelta(seconds=lease + 1)
    db.session.commit()


def test_a_worker_killed_mid_batch_has_only_its_unmarked_emails_sent_again(
    app, database, redis_url, tmp_path
):
    """A real worker process is killed (SIGKILL) while the server holds its 6th email: the
    5 the server took were never marked. Within the claim nothing is sent again; once it
    lapses, the batch's unmarked emails are sent again with the same Message-IDs, and
    nothing it had marked before."""
    sink = Sink(hang_after=5)
    controller = serve_smtp(sink)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = _supporters(petition, 12)
        first, last = _ids()
        db.session.add(FanoutBatch(topic="victory", object_id=petition.id, first_id=first, last_id=last))
        db.session.commit()
        lease = 30  # the claim stands until the test moves it back
        args = {
            "db": database.url,
            "redis": redis_url,
            "tmp": str(tmp_path),
            "batch": ["victory", petition.id, first, last],
            "config": {
                "SECRET_KEY": app.config["SECRET_KEY"],
                "MAIL_URL": app.config["MAIL_URL"],
                "MAIL_CLAIM_SECONDS": lease,
            },
        }
        env = {**os.environ, "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "")}
        worker = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 60
            while not sink.hanging and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sink.hanging, "the worker never reached its 6th email"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        first_time = dict(sink.taken)
        assert len(first_time) == 5
        db.session.rollback()  # a snapshot that includes what the worker committed
        receipts = db.session.execute(select(MailReceipt)).scalars().all()
        assert len(receipts) == 12 and all(r.sent_at is None and r.claimed_at for r in receipts)

        sink.hang_after = None
        app.config["MAIL_CLAIM_SECONDS"] = lease
        with pytest.raises(ClaimHeld):  # the dead worker's claim still stands
            notify.send_batch("victory", petition.id, first, last)
        assert len(sink.taken) == 5
        db.session.rollback()
        _lapse_claims(lease)
        assert notify.send_batch("victory", petition.id, first, last) == 12
        assert sorted(r for r, _ in sink.taken) == sorted(emails + list(first_time))
        # Sent twice: exactly those the killed worker had sent and not marked, same ids.
        again = {r: m for r, m in sink.taken[5:] if r in first_time}
        assert again == first_time
        db.session.expire_all()
        assert db.session.query(FanoutBatch).one().done_at is not None
        assert notify.send_batch("victory", petition.id, first, last) == 0
        assert len(sink.taken) == 17
    finally:
        controller.stop()


def test_a_fan_out_to_1200_reaches_each_once_through_a_failing_server(app, run_jobs):
    """Three batches by a real RQ worker; the server drops the connection once mid-way
    (after 700 emails); the failed batch's retry (as RQ, or the sweeper, runs it) sends the
    rest: 0 duplicates, 0 missing."""
    sink = Sink(pipelining=True, drop_after=700)
    controller = serve_smtp(sink)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = _supporters(petition, 1200)
        assert notify.fan_out("victory", petition.id, petition.id) == 3 == -(-1200 // BATCH_SIZE)
        run_jobs(fail_on_error=False)
        assert len(sink.taken) == 700
        sink.drop_after = None
        db.session.commit()
        undone = db.session.execute(select(FanoutBatch).where(FanoutBatch.done_at.is_(None))).scalars().all()
        assert len(undone) >= 1
        for batch in undone:
            notify.send_batch(batch.topic, batch.object_id, batch.first_id, batch.last_id)
        taken = [r for r, _ in sink.taken]
        assert len(taken) == len(set(taken)) == 1200  # 0 duplicates
        assert set(taken) == set(emails)  # 0 missing
        ids = _message_ids(petition.id)
        assert all(message_id == ids[r] for r, message_id in sink.taken)
        assert db.session.query(FanoutBatch).filter(FanoutBatch.done_at.is_(None)).count() == 0
    finally:
        controller.stop()


def test_a_batch_writes_each_email_as_the_single_renderer_does_in_each_language(app):
    member = make_user("member@example.org")
    member.locale = "es"
    objects = an_object_per_topic(member)
    for name, topic in TOPICS.items():
        if topic.organiser:
            continue
        obj = objects[name]
        supports = (
            db.session.execute(db.select(Support).filter_by(campaign_id=topic.audience(obj).id))
            .scalars()
            .all()
        )
        batch = {support.id: email for support, email in topic.emails(obj, supports)}
        assert set(batch) == {s.id for s in supports}, name
        for support in supports:
            alone = topic.email(obj, support)
            together = batch[support.id]
            assert together.to == alone.to and together.subject == alone.subject, name
            assert without_link_times(together.headers) == without_link_times(alone.headers), name
            assert without_link_times(together.text) == without_link_times(alone.text), name
            assert without_link_times(together.html) == without_link_times(alone.html), name
        if name == "victory":  # a member who reads Spanish, a supporter who reads English
            assert sorted(e.html.split('lang="')[1][:2] for e in batch.values()) == ["en", "es"]


def test_the_bytes_sent_are_the_message_the_email_package_builds():
    email = Email(
        to="ana@example.org",
        subject="Alcanzamos la meta: café justo — señal " * 3,
        text="Hola Ána,\n.\n.a line that starts with a dot\n" + "x" * 200 + "\ntrailing space \nend",
        html="<p>Hola Ána</p>\n<div>" + "&nbsp;" * 100 + "</div>",
        headers={
            "List-Unsubscribe": "<http://groundswell.test/supports/unsubscribe/" + "t" * 150 + ">",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        message_id="<abc@groundswell.localhost>",
    )
    sender = "Grupo Señal <no-reply@groundswell.localhost>"
    data = email.to_bytes(sender)
    assert data.isascii() and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    ours = BytesParser(policy=policy.default).parsebytes(data)
    built = email.to_message(sender).as_bytes(policy=policy.SMTP)
    reference = BytesParser(policy=policy.default).parsebytes(built)
    for name in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(ours[name]) == str(reference[name]), name
    for part in ("plain", "html"):
        assert ours.get_body((part,)).get_content() == reference.get_body((part,)).get_content(), part
    assert Email(to="ñandú@example.org", subject="s", text="t", html="h").to_bytes(sender) is None


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Hola Ána,\r\nline two\r\n", "8bit"),  # CRLF lines, not ASCII
        ("Hello,\r\nend", "7bit"),  # no line break at the end
        ("a lone \r in a line\n", "quoted-printable"),
        ("a NUL \0 in a line\n", "quoted-printable"),
        ("Ána\r\n" + "é" * 500 + "\n", "quoted-printable"),  # a line of 1,000 octets
        ("", "7bit"),
    ],
)
def test_each_part_goes_in_the_encoding_its_text_allows(text, encoding):
    """A server that offers 8BITMIME gets a part as it is where SMTP allows it (CRLF lines of
    at most 998 octets, no NUL, no lone CR), else quoted-printable; either way the part reads
    back as the text with its lines ended by a line break."""
    sender = "Groundswell <no-reply@groundswell.localhost>"
    email = Email(to="ana@example.org", subject="s", text=text, html="<p>h</p>")
    data = email.to_bytes(sender, eight_bit=True)
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line break is SMTP's
    plain = BytesParser(policy=policy.default).parsebytes(data).get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == encoding
    expected = text.replace("\r\n", "\n")
    expected += "" if expected.endswith("\n") else "\n"
    assert plain.get_content().replace("\r\n", "\n") == expected


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["x" * 998],
        ["x" * 999],
        ["a", "x" * 998, "b"],
        ["a", "x" * 999, "b"],
        ["é" * 499, "y"],  # 998 octets in UTF-8
        ["é" * 500],  # 1,000 octets in 500 characters
        ["z" * 400] * 10 + ["x" * 999],
        ["z" * 997, "", "x" * 998, ""],
    ],
)
def test_a_line_too_long_for_smtp_is_found_wherever_it_is(lines):
    from campaign.mail import _lines_fit

    data = "\n".join(lines).encode()
    assert _lines_fit(data) == all(len(line) <= 998 for line in data.split(b"\n"))


def test_a_header_is_written_as_the_folding_writer_writes_it():
    """One-line headers go as they are, without the folding writer: the same bytes."""
    from campaign.mail import _folded_header, _header

    values = [
        "",
        "ana@example.org",
        "x" * 70,
        "y" * 71,
        "a b " * 30,
        "<" + "t" * 150 + ">",
        "tab\there",
        "Señal",
    ]
    for name in ("To", "Subject", "Message-ID"):
        for value in values:
            assert _header(name, value) == _folded_header(name, value), (name, value)
