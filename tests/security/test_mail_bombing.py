"""The support form cannot be used to flood a mailbox: confirmation emails are capped per
recipient mailbox across all campaigns and per IP, and the name typed never opens the
email."""

from __future__ import annotations

import pytest

from campaign.services import supports as support_service
from tests.factories import make_campaign
from tests.helpers import body_text

pytestmark = pytest.mark.app_config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_CONFIRMATION_MAILBOX="3 per hour;4 per day",
    RATELIMIT_CONFIRMATION_IP="5 per hour;6 per day",
)


def test_a_mailbox_gets_few_confirmations_across_campaigns(app, run_jobs, outbox):
    campaigns = [make_campaign() for _ in range(6)]
    for n, campaign in enumerate(campaigns):
        for address in ("victim@gmail.com", "v.i.c.t.i.m+x@ｇｍａｉｌ.com"):
            support_service.add_support(
                campaign.id, name="V", email=address, country="GB", ip_address=f"192.0.2.{n}"
            )
    support_service.add_support(
        campaigns[0].id, name="V", email="other@example.org", country="GB", ip_address="192.0.2.100"
    )
    run_jobs()
    to = [m["To"] for m in outbox()]
    assert len([t for t in to if "victim" in t]) == 3  # per hour, all campaigns together
    assert "other@example.org" in to  # other mailboxes are not held up
    run_jobs()  # a job run again sends nothing more, and takes no share of the cap
    assert len(outbox()) == 4


def test_one_ip_gets_few_confirmations_sent(app, run_jobs, outbox):
    campaigns = [make_campaign() for _ in range(8)]
    for n, campaign in enumerate(campaigns):
        support_service.add_support(
            campaign.id, name="V", email=f"person{n}@example.org", country="GB", ip_address="198.51.100.7"
        )
    run_jobs()
    assert len(outbox()) == 5


def test_the_name_typed_does_not_open_the_email(app, run_jobs, outbox):
    campaign = make_campaign()
    support_service.add_support(
        campaign.id,
        name="URGENT your account is locked, reply now",
        email="someone@example.org",
        country="GB",
    )
    run_jobs()
    [message] = outbox()
    text = body_text(message)
    assert text.startswith("Hello,")
    assert "URGENT" not in text and "URGENT" not in message.get_body(("html",)).get_content()


def test_a_batch_is_capped_as_its_emails_one_by_one(app):
    """The dispatcher's one script for a batch (:func:`confirmation_emails_allowed`) allows
    the same emails as asking for each in turn, and leaves the same caps in Redis: two
    mailboxes over their cap, an IP over its cap, an email without an IP, a send key twice."""
    from campaign.queue import redis_connection
    from campaign.services.abuse import confirmation_email_allowed, confirmation_emails_allowed

    emails = [(f"confirm-support:{n}:1", f"box{n % 3}@example.org", "198.51.100.7") for n in range(9)]
    emails += [
        ("confirm-support:9:1", "box9@example.org", None),
        ("confirm-support:0:1", "box0@example.org", "198.51.100.7"),
    ]
    redis = redis_connection()

    def caps() -> dict:
        return {
            key.decode(): sorted(member.decode() for member in redis.zrange(key, 0, -1))
            for key in redis.scan_iter("groundswell:confirmations:*")
        }

    def forget() -> None:
        for key in redis.scan_iter("groundswell:confirmations:*"):
            redis.delete(key)

    forget()
    one_by_one = [confirmation_email_allowed(*email) for email in emails]
    left_one_by_one = caps()
    forget()
    assert confirmation_emails_allowed(emails) == one_by_one
    assert caps() == left_one_by_one
    # The IP's five an hour; then the email without an IP; a send key already counted goes.
    assert one_by_one == [True] * 5 + [False] * 4 + [True, True]
    assert set(left_one_by_one) == {
        *(f"groundswell:confirmations:mailbox:box{n}@example.org" for n in (0, 1, 2, 9)),
        "groundswell:confirmations:ip:198.51.100.7",
    }


def test_a_batch_answers_each_email_whatever_its_values_hold(app):
    """The batch goes to Redis as lines of tab-separated values: a value with a tab or a line
    break in it (no form lets one through) still gets its own answer, and does not shift the
    emails after it onto other caps."""
    from campaign.queue import redis_connection
    from campaign.services.abuse import confirmation_emails_allowed

    redis = redis_connection()
    for key in redis.scan_iter("groundswell:confirmations:*"):
        redis.delete(key)
    emails = [
        ("confirm-support:1:1", "odd\tbox@example.org", "198.51.100.8"),
        ("confirm-support:2:1", "line\nbreak@example.org", None),
        ("confirm-support:3:1", "plain@example.org", "198.51.100.9"),
    ]
    assert confirmation_emails_allowed(emails) == [True, True, True]
    assert redis.zrange("groundswell:confirmations:mailbox:plain@example.org", 0, -1) == [
        b"confirm-support:3:1"
    ]
    assert redis.zrange("groundswell:confirmations:ip:198.51.100.9", 0, -1) == [b"confirm-support:3:1"]
    assert redis.zrange("groundswell:confirmations:mailbox:odd box@example.org", 0, -1) == [
        b"confirm-support:1:1"
    ]


def test_a_batch_goes_when_redis_refuses_the_caps_and_the_log_says_why(app, caplog):
    """Redis refusing the caps script (here an error reply, as an out-of-memory server gives)
    lets the emails go, as when it is unreachable, and the warning names the refusal rather
    than calling Redis unavailable."""
    from campaign.queue import redis_connection
    from campaign.services.abuse import confirmation_emails_allowed

    app.extensions["groundswell.caps_script"] = redis_connection().register_script(
        "return redis.error_reply('OOM command not allowed when used memory > maxmemory')"
    )
    try:
        with caplog.at_level("WARNING", logger="campaign.services.abuse"):
            allowed = confirmation_emails_allowed([("confirm-support:1:1", "box@example.org", None)])
    finally:
        del app.extensions["groundswell.caps_script"]
    assert allowed == [True]
    assert "caps unchecked: OutOfMemoryError: command not allowed" in caplog.text
