"""Mail goes out only from jobs, by file or by a real SMTP server, once per key."""

import socket

import pytest
from aiosmtpd.controller import Controller

from campaign.extensions import db
from campaign.jobs.accounts import send_verification_email
from campaign.mail import render_email, send_once
from campaign.models import MailReceipt
from campaign.queue import get_queue
from tests.factories import make_user
from tests.helpers import Collector, post_form


def test_smtp_transport_delivers_text_and_html(app, smtp_server, run_jobs):
    controller, handler = smtp_server
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    user = make_user("ada@example.org", verified=False)
    get_queue("high").enqueue(send_verification_email, user.id, "req-1")
    assert run_jobs() == 1
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    raw = envelope.content.decode()
    assert "Content-Type: text/plain" in raw and "Content-Type: text/html" in raw
    assert "Subject: Confirm your email address for Groundswell" in raw


def test_smtp_failure_keeps_no_receipt_so_the_retry_sends(app, smtp_server):
    controller, handler = smtp_server
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    user = make_user(verified=False)
    with pytest.raises(OSError):
        send_verification_email(user.id, "req-1")
    assert db.session.query(MailReceipt).count() == 0
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    assert send_verification_email(user.id, "req-1") is True
    assert len(handler.envelopes) == 1


def test_a_job_run_twice_through_the_queue_sends_once(app, run_jobs, outbox):
    user = make_user(verified=False)
    queue = get_queue("high")
    queue.enqueue(send_verification_email, user.id, "same-request")
    queue.enqueue(send_verification_email, user.id, "same-request")
    assert run_jobs() == 2
    assert len(outbox()) == 1
    assert db.session.query(MailReceipt).count() == 1


def test_send_once_uses_the_key(app, outbox):
    email = render_email(
        "verify",
        to="a@example.org",
        subject="Hello",
        user=make_user(),
        link="http://groundswell.test/verify/x",
    )
    assert send_once("k-1", email) and not send_once("k-1", email) and send_once("k-2", email)
    assert len(outbox()) == 2


def test_the_view_enqueues_and_sends_nothing_itself(client, outbox, run_jobs):
    post_form(
        client,
        "/signup",
        {
            "name": "Ada",
            "email": "ada@example.org",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
    )
    assert outbox() == []
    assert get_queue("high").count == 1
    run_jobs()
    assert len(outbox()) == 1


def test_enqueue_failure_does_not_lose_the_account(app, client, outbox):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("groundswell.redis", None)
    response = post_form(
        client,
        "/signup",
        {
            "name": "Ada",
            "email": "ada@example.org",
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
    )
    assert response.status_code == 302
    from campaign.models import User

    assert db.session.query(User).count() == 1


class RefusingSMTP(Collector):
    """Refuses one address for good (550), accepts the others."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("dead@"):
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_dead_mailbox_does_not_stop_a_batch(app, run_jobs):
    from campaign.jobs import notify
    from campaign.models import Support
    from tests.factories import make_campaign

    handler = RefusingSMTP()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}"
        petition = make_campaign()
        for email in ("alive1@example.org", "dead@example.org", "alive2@example.org"):
            db.session.add(
                Support(
                    campaign_id=petition.id,
                    email=email,
                    email_canonical=email,
                    name="S",
                    country="GB",
                    consents_to_updates=True,
                    confirmed_at=petition.created_at,
                )
            )
        db.session.commit()
        notify.fan_out("victory", petition.id, petition.id)
        run_jobs()
    finally:
        controller.stop()
    delivered = sorted(r for e in handler.envelopes for r in e.rcpt_tos)
    assert delivered == ["alive1@example.org", "alive2@example.org"]
    refused = db.session.query(MailReceipt).filter(MailReceipt.error.is_not(None)).one()
    assert refused.recipient == "dead@example.org" and "550" in refused.error


def test_a_server_offering_8bitmime_gets_text_as_it_is(app, smtp_server):
    """Through a real server that offers 8BITMIME: a part whose lines fit goes in UTF-8 as
    it is, the envelope says BODY=8BITMIME, a line that starts with a dot arrives whole; a part
    with a line longer than SMTP's 998 octets stays quoted-printable."""
    from email import policy
    from email.parser import BytesParser

    from campaign.mail import Email, send_each

    controller, handler = smtp_server
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    text = "Hola Ána,\n.a line that starts with a dot\n..and two\nend\n"
    html = "<p>Hola Ána</p>\n<p>" + "x" * 1200 + "</p>\n"
    email = Email(to="ana@example.org", subject="Señal", text=text, html=html)
    assert list(send_each([("key-1", email)])) == [("key-1", None)]
    [envelope] = handler.envelopes
    assert "BODY=8BITMIME" in envelope.mail_options
    message = BytesParser(policy=policy.default).parsebytes(envelope.content)
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain["Content-Transfer-Encoding"] == "8bit"
    assert rich["Content-Transfer-Encoding"] == "quoted-printable"
    # SMTP's lines end in CRLF, whatever the encoding.
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html
    assert "Hola Ána".encode() in envelope.content  # not encoded


def test_an_ascii_email_to_a_server_offering_8bitmime_is_7bit(app, smtp_server):
    from campaign.mail import Email, send_each

    controller, handler = smtp_server
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    email = Email(to="ada@example.org", subject="Hello", text="Hello Ada = friend\n", html="<p>Hi</p>\n")
    assert list(send_each([("key-1", email)])) == [("key-1", None)]
    [envelope] = handler.envelopes
    assert not any(option.startswith("BODY=") for option in envelope.mail_options)
    assert envelope.content.isascii()
    assert envelope.content.count(b"Content-Transfer-Encoding: 7bit") == 2
    assert b"Hello Ada = friend" in envelope.content  # "=" as it is, not =3D
