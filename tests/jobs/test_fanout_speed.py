"""A fan-out batch sends its emails over one SMTP connection, each still exactly once."""

from campaign.extensions import db
from campaign.jobs import notify
from campaign.models import MailReceipt, Support
from tests.factories import SupportRowFactory, make_campaign
from tests.helpers import serve_smtp


class CountingSMTP:
    """Counts connections (one EHLO each) and messages; refuses DATA while ``failing``."""

    def __init__(self):
        self.connections = 0
        self.recipients = []
        self.failing = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.failing:
            self.failing -= 1
            return "451 Try again later"
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted"


def test_a_batch_uses_one_connection_and_sends_each_email_once(app, run_jobs):
    handler = CountingSMTP()
    controller = serve_smtp(handler)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = [s.email for s in SupportRowFactory.create_batch(12, campaign=petition)]
        assert notify.fan_out("victory", petition.id, petition.id) == 1
        run_jobs()
        assert sorted(handler.recipients) == sorted(emails)
        assert handler.connections == 1
        notify.fan_out("victory", petition.id, petition.id)  # a second run sends nothing
        run_jobs()
        assert len(handler.recipients) == 12
    finally:
        controller.stop()


def test_a_failed_send_drops_the_connection_and_the_retry_sends_the_rest_once(app):
    handler = CountingSMTP()
    controller = serve_smtp(handler)
    try:
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        petition = make_campaign()
        emails = [s.email for s in SupportRowFactory.create_batch(5, campaign=petition)]
        first, last = db.session.execute(db.select(db.func.min(Support.id), db.func.max(Support.id))).one()
        handler.failing = 1  # the first email is refused for now (a 4xx): the job fails
        try:
            notify.send_batch("victory", petition.id, first, last)
        except Exception as exc:  # noqa: BLE001 - RQ would retry it
            assert "451" in str(exc)
        else:
            raise AssertionError("a 451 must fail the job so that it is retried")
        db.session.rollback()
        # Claimed, none marked sent, and the claims released: the retry need not wait.
        receipts = db.session.query(MailReceipt).all()
        assert len(receipts) == 5 and handler.recipients == []
        assert all(r.sent_at is None and r.claimed_at is None for r in receipts)
        assert notify.send_batch("victory", petition.id, first, last) == 5  # the retry
        assert sorted(handler.recipients) == sorted(emails)
        assert handler.connections == 2  # the failed one was closed, the retry opened one
    finally:
        controller.stop()
