"""Delivering signed campaigns to brands: sealed packages, once per round, public answers."""

import csv
import io
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign import packages
from campaign.extensions import db
from campaign.jobs.deliveries import deliver
from campaign.models import (
    CampaignKind,
    Delivery,
    DeliveryState,
    MailReceipt,
    Response,
    Role,
    Verdict,
    utcnow,
)
from campaign.queue import get_queue
from campaign.services import ServiceError
from campaign.services.accountability import record_for
from campaign.services.deliveries import request_delivery
from tests.factories import SupportFactory, every_other, make_brand, make_campaign, make_user
from tests.helpers import body_text, link_in, login, post_form


@pytest.fixture
def delivered(app, run_jobs, outbox):
    """A petition with 5 confirmed signatures, delivered once; returns (petition, delivery)."""
    organiser = make_user("organiser@example.org")
    brand = make_brand("Northwind Coffee")
    petition = make_campaign(organiser=organiser, brand=brand, goal=1000)
    SupportFactory.create_batch(5, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    delivery = request_delivery(petition.id, organiser.id)
    run_jobs()
    db.session.commit()
    return petition, db.session.get(Delivery, delivery.id)


def test_a_delivery_builds_a_sealed_package_and_emails_the_brand(delivered, outbox):
    petition, delivery = delivered
    assert delivery.state == DeliveryState.SENT and delivery.support_count == 5
    [message] = [m for m in outbox() if m["To"] == petition.target_brand.contact_email]
    assert "5 customers ask Northwind Coffee" in message["Subject"]
    text = body_text(message)
    assert delivery.digest in text and delivery.seal in text
    files = packages.package_files(delivery)
    rows = list(csv.reader(io.StringIO(files["csv"].read_text())))
    assert rows[0] == ["name", "country", "date"] and len(rows) == 6
    assert "@" not in files["csv"].read_text()  # never emails
    assert files["pdf"].read_bytes().startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(files["csv"].read_bytes()).hexdigest() == delivery.csv_sha256
    assert hashlib.sha256(files["pdf"].read_bytes()).hexdigest() == delivery.pdf_sha256
    assert packages.seal_is_valid(delivery.digest, delivery.seal)


def test_running_the_delivery_job_twice_sends_once(delivered, outbox, run_jobs):
    petition, delivery = delivered
    before = len(outbox())
    assert deliver(delivery.id) is False
    get_queue("default").enqueue(deliver, delivery.id)
    run_jobs()
    assert len(outbox()) == before
    assert db.session.query(MailReceipt).filter(MailReceipt.key.like("delivery:%")).count() == 1


def test_rounds_hold_only_new_signatures_and_never_overlap(delivered, run_jobs, outbox):
    petition, first = delivered
    with pytest.raises(ServiceError, match="no new supporters"):
        request_delivery(petition.id, petition.organiser_id)
    SupportFactory.reset_sequence(50)
    SupportFactory.create_batch(3, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    second = request_delivery(petition.id, petition.organiser_id)
    with pytest.raises(ServiceError, match="still being delivered"):
        request_delivery(petition.id, petition.organiser_id)
    run_jobs()
    db.session.commit()
    second = db.session.get(Delivery, second.id)
    assert second.round == 2 and second.support_count == 3 and second.total_count == 8


def test_the_verify_page_checks_digest_and_seal(delivered, client):
    petition, delivery = delivered
    ok = client.get(f"/verify?digest={delivery.digest}&seal={delivery.seal}")
    assert "Valid: this package is genuine" in ok.get_data(as_text=True)
    assert "<strong>5</strong> signatures" in ok.get_data(as_text=True)
    forged = client.get(f"/verify?digest={delivery.digest}&seal={'0' * 64}")
    assert "Not valid" in forged.get_data(as_text=True)
    short = client.get("/verify?digest=abc&seal=def")
    assert short.status_code == 400 and "64 hexadecimal" in short.get_data(as_text=True)
    assert client.get("/verify").status_code == 200


def test_the_brand_opens_its_private_link_and_answers_in_public(delivered, client, run_jobs, outbox):
    petition, delivery = delivered
    message = next(m for m in outbox() if m["To"] == petition.target_brand.contact_email)
    link = link_in(message, "/deliveries/")
    page = client.get(link)
    assert page.status_code == 200 and "Answer in public" in page.get_data(as_text=True)
    db.session.commit()
    assert db.session.get(Delivery, delivery.id).state == DeliveryState.OPENED
    assert client.get(link + "/signatures.csv").status_code == 200
    assert client.get(link + "/summary.pdf").data.startswith(b"%PDF")
    assert client.get("/deliveries/forged-token").status_code == 403
    # A commitment must say what and by when.
    vague = post_form(
        client, link, {"author_name": "Sam Lee, Head of Sourcing", "stance": "committed", "body": "We will."}
    )
    assert vague.status_code == 400 and "what the brand will do and by when" in vague.get_data(as_text=True)
    due = (utcnow() + timedelta(days=365)).date().isoformat()
    response = post_form(
        client,
        link,
        {
            "author_name": "Sam Lee, Head of Sourcing",
            "stance": "committed",
            "body": "We will publish farm-gate prices.",
            "commitment": "Publish prices",
            "commitment_due": due,
        },
    )
    assert response.status_code == 302
    db.session.commit()
    assert db.session.get(Delivery, delivery.id).state == DeliveryState.ANSWERED
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Northwind Coffee answered: Committed" in page and "Publish prices" in page
    # Consenting supporters (0, 2, 4) hear of it, with a link to say if it meets the demand.
    run_jobs()
    run_jobs()
    told = [m for m in outbox() if "answered" in m["Subject"]]
    assert sorted(m["To"] for m in told) == ["s0@example.org", "s2@example.org", "s4@example.org"]
    verdict_link = link_in(told[0], "/responses/")
    for choice in ("partly", "meets"):  # a supporter can change their mind: one verdict each
        post_form(client, verdict_link, {"choice": choice}, page=verdict_link)
    assert db.session.query(Verdict).count() == 1
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "<strong>1</strong> it meets the demand" in page


def test_accountability_record(delivered, client):
    petition, delivery = delivered
    brand = petition.target_brand
    other = make_campaign(brand=brand)
    SupportFactory.reset_sequence(200)
    SupportFactory.create_batch(2, campaign=other, consents_to_updates=every_other())
    later = request_delivery(other.id, other.organiser_id)
    deliver(later.id)
    # Pretend the first delivery went out 10 days ago and was answered 4 days later.
    first = db.session.get(Delivery, delivery.id)
    first.sent_at = utcnow() - timedelta(days=10)
    db.session.add(
        Response(
            campaign_id=petition.id,
            brand_id=brand.id,
            author_name="Sam",
            stance="discussing",
            body="Looking into it.",
            digest="t1",
            created_at=utcnow() - timedelta(days=6),
        )
    )
    second = db.session.get(Delivery, later.id)
    second.sent_at = utcnow() - timedelta(days=3)
    db.session.commit()
    record = record_for(brand.id)
    assert (record.delivered, record.answered, record.share_answered) == (2, 1, 50)
    assert record.median_days_to_answer == 4.0
    assert [(w.campaign.id, w.days) for w in record.waiting] == [(other.id, 3)]
    page = client.get(f"/brands/{brand.slug}").get_data(as_text=True)
    assert "awaiting an answer for 3 days" in page and "50%" in page
    # The record as a chart: a bar per delivery, newest first, answered ones solid.
    assert [(t.campaign.id, t.days, t.answered) for t in record.times] == [
        (other.id, 3, False),
        (petition.id, 4.0, True),
    ]
    assert [row.width for row in record.chart_rows(width=200)] == [150.0, 200.0]
    assert 'role="img"' in page and f"Days {brand.name} took to answer" in page
    assert f"{other.title}: no answer after 3 days. {petition.title}: answered in 4.0 days." in page
    assert '<rect x="0" y="20" width="127.5" height="14" rx="2" fill="url(#record-waiting)"/>' in page
    assert '<rect x="0" y="58" width="170.0" height="14" rx="2" fill="#0b5d4b"/>' in page


def test_a_hidden_campaign_leaves_its_brands_page_and_figures(delivered, client):
    from campaign.services.campaigns import hide_campaign

    petition, _delivery = delivered
    brand = petition.target_brand
    other = make_campaign(brand=brand, title="A campaign the moderators hid")
    SupportFactory.reset_sequence(200)
    SupportFactory.create_batch(2, campaign=other, consents_to_updates=every_other())
    deliver(request_delivery(other.id, other.organiser_id).id)
    assert record_for(brand.id).delivered == 2
    hide_campaign(other.id, make_user(role=Role.MODERATOR).id, "Abusive")
    record = record_for(brand.id)
    assert record.delivered == 1 and other.id not in [w.campaign.id for w in record.waiting]
    assert "moderators hid" not in client.get(f"/brands/{brand.slug}").get_data(as_text=True)


def test_goal_delivers_automatically(app, run_jobs, outbox):
    brand = make_brand("Acme")
    petition = make_campaign(brand=brand, goal=10)
    SupportFactory.create_batch(10, campaign=petition, consents_to_updates=every_other())
    for _ in range(3):
        run_jobs()
    delivery = db.session.execute(select(Delivery)).scalar_one()
    assert delivery.automatic and delivery.state == DeliveryState.SENT
    assert any(m["To"] == brand.contact_email for m in outbox())


def test_a_failing_delivery_is_retried_then_shown_as_failed(app, run_jobs):
    from rq import Retry

    from campaign import outbox

    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # nothing listens: every attempt fails
    organiser = make_user()
    petition = make_campaign(organiser=organiser)
    SupportFactory.create_batch(1, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    outbox.WORK["delivery"] = replace(outbox.WORK["delivery"], retry=Retry(max=1))  # at once, then failed
    try:
        delivery = request_delivery(petition.id, organiser.id)
        run_jobs(fail_on_error=False)
    finally:
        outbox.WORK["delivery"] = replace(outbox.WORK["delivery"], retry=outbox.DELIVERY_RETRY)
    db.session.commit()
    delivery = db.session.get(Delivery, delivery.id)
    assert delivery.state == DeliveryState.FAILED
    assert "could not be reached" in delivery.failure_reason
    assert delivery.digest is None  # nothing was recorded as sent


def test_only_the_organiser_delivers_and_buycotts_are_not_delivered(client, app):
    organiser = make_user()
    petition = make_campaign(organiser=organiser)
    SupportFactory.create_batch(1, campaign=petition, consents_to_updates=every_other())
    login(client, make_user().email)
    page = f"/petitions/{petition.slug}"
    assert post_form(client, f"{page}/deliver", {}, page="/account/").status_code == 403
    buycott = make_campaign(CampaignKind.BUYCOTT, organiser=organiser)
    with pytest.raises(ServiceError, match="not delivered"):
        request_delivery(buycott.id, organiser.id)
    assert db.session.query(Delivery).count() == 0


def test_brand_members_see_deliveries_in_their_inbox_but_no_emails(delivered, client):
    from campaign.models import BrandMember

    petition, delivery = delivered
    member = make_user("sam@example.org")
    db.session.add(
        BrandMember(
            brand_id=petition.target_brand_id,
            user_id=member.id,
            title="Head of Sourcing",
            verified_at=utcnow(),
        )
    )
    db.session.commit()
    login(client, member.email)
    inbox = client.get(f"/brands/{petition.target_brand.slug}/inbox").get_data(as_text=True)
    assert petition.title in inbox
    link = re.search(r'href="http://groundswell.test(/deliveries/[^"]+)"', inbox).group(1)
    csv_text = client.get(link + "/signatures.csv").get_data(as_text=True)
    assert "@example.org" not in csv_text
    assert client.get(f"/petitions/{petition.slug}/contacts.csv").status_code == 403
    moderator = make_user(role=Role.MODERATOR)
    assert moderator.is_moderator


class FlakySMTP:
    """An SMTP handler that refuses the first ``failures`` messages with a temporary error."""

    def __init__(self, failures: int):
        self.failures = failures
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        if self.failures:
            self.failures -= 1
            return "451 Temporary failure, try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def flaky_smtp():
    import socket

    from aiosmtpd.controller import Controller

    handler = FlakySMTP(failures=2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, handler
    controller.stop()


def test_delivery_fails_twice_then_succeeds_over_real_smtp(app, run_jobs, flaky_smtp):
    from rq import Retry

    from campaign import outbox

    controller, handler = flaky_smtp
    organiser = make_user()
    petition = make_campaign(organiser=organiser)
    SupportFactory.create_batch(2, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
    outbox.WORK["delivery"] = replace(outbox.WORK["delivery"], retry=Retry(max=3))  # no waiting
    try:
        delivery = request_delivery(petition.id, organiser.id)
        run_jobs(fail_on_error=False)
    finally:
        outbox.WORK["delivery"] = replace(outbox.WORK["delivery"], retry=outbox.DELIVERY_RETRY)
    db.session.commit()
    delivery = db.session.get(Delivery, delivery.id)
    assert delivery.state == DeliveryState.SENT
    # The brand gets one email (the supporters in the round are told too, separately).
    [envelope] = [e for e in handler.envelopes if e.rcpt_tos == [petition.target_brand.contact_email]]
    assert "/deliveries/" in envelope.content.decode()


def test_an_uploaded_package_verifies_and_one_changed_byte_does_not(delivered, client):
    petition, delivery = delivered
    files = packages.package_files(delivery)
    original = files["csv"].read_bytes()
    ok = post_form(
        client,
        "/verify",
        {"package_file": (io.BytesIO(original), "signatures.csv")},
        content_type="multipart/form-data",
    )
    assert "Valid: this package is genuine" in ok.get_data(as_text=True)
    changed = bytearray(original)
    changed[-3] ^= 1
    bad = post_form(
        client,
        "/verify",
        {"package_file": (io.BytesIO(bytes(changed)), "x.csv")},
        content_type="multipart/form-data",
    )
    assert "Not valid" in bad.get_data(as_text=True)
    pdf = files["pdf"].read_bytes()
    assert "Valid" in post_form(
        client, "/verify", {"package_file": (io.BytesIO(pdf), "s.pdf")}, content_type="multipart/form-data"
    ).get_data(as_text=True)


def test_a_brand_without_a_contact_address_fails_visibly(app, client, run_jobs):
    brand = make_brand("No Contact Inc")
    brand.contact_email = None
    organiser = make_user()
    petition = make_campaign(organiser=organiser, brand=brand)
    SupportFactory.create_batch(1, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    delivery = request_delivery(petition.id, organiser.id)
    run_jobs()
    db.session.commit()
    delivery = db.session.get(Delivery, delivery.id)
    assert delivery.state == DeliveryState.FAILED
    assert "no contact address" in delivery.failure_reason
    login(client, organiser.email)
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "no contact address" in page and "Try again" in page


def test_members_of_another_brand_and_strangers_are_refused(delivered, client):
    from campaign.models import BrandMember

    petition, delivery = delivered
    other = make_brand("Other Brand")
    member = make_user()
    db.session.add(BrandMember(brand_id=other.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    login(client, member.email)
    slug = petition.target_brand.slug
    assert client.get(f"/brands/{slug}/inbox").status_code == 403
    for url in ("/deliveries/not-a-token", "/deliveries/not-a-token/signatures.csv"):
        assert client.get(url).status_code == 403
    assert (
        post_form(
            client,
            "/deliveries/not-a-token",
            {"author_name": "x", "stance": "declined", "body": "No."},
            page="/account/",
        ).status_code
        == 403
    )
    assert db.session.query(Response).count() == 0


def test_victory_needs_five_supporters_and_a_story(app, client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    SupportFactory.create_batch(4, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    login(client, organiser.email)
    url = f"/petitions/{petition.slug}/victory"
    too_few = post_form(client, url, {"story": "They agreed to everything we asked for."})
    assert "at least 5 confirmed supporters" in too_few.get_data(as_text=True)
    SupportFactory.reset_sequence(10)
    SupportFactory.create_batch(2, campaign=petition, consents_to_updates=every_other())
    run_jobs()
    short = post_form(client, url, {"story": "Won."})
    assert short.status_code == 400
    done = post_form(client, url, {"story": "Northwind now publishes what it pays farmers."})
    assert done.status_code == 302
    db.session.commit()
    db.session.refresh(petition)
    assert petition.state.value == "won" and petition.won_at is not None
    run_jobs()
    run_jobs()
    told = sorted(m["To"] for m in outbox() if m["Subject"].startswith("We won"))
    assert told == ["s0@example.org", "s10@example.org", "s2@example.org"]
    page = client.get("/victories").get_data(as_text=True)
    assert petition.title in page and "publishes what it pays farmers" in page
    assert "Timeline" in page
    stranger = make_user()
    post_form(client, "/logout", {}, page="/account/")
    login(client, stranger.email)
    assert client.get(url).status_code == 403
