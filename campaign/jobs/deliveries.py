"""Delivering a round of a campaign to a brand: build, seal, sign, email, once."""

from __future__ import annotations

import logging
import smtplib

from flask_babel import format_decimal, ngettext

from campaign import packages
from campaign.extensions import db
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.models import utcnow
from campaign.models.delivery import (
    NO_CONTACT_REASON,
    OUR_ERROR_REASON,
    UNREACHABLE_REASON,
    Delivery,
    DeliveryState,
)
from campaign.outbox import add_notice
from campaign.services.deliveries import delivery_link, delivery_link_token
from campaign.urls import external_url

log = logging.getLogger(__name__)


@app_job
def deliver(delivery_id: int) -> bool:
    """Build and send round ``delivery_id``; a second run sends nothing. Returns True if sent.

    The email's receipt, the package's digest, its signed statement (and the log entry that
    publishes it), the delivery's new state and the notice that tells its supporters commit
    together: either all are recorded and the email went out, or none is and the job raises
    to retry. The supporters' notice is enqueued after that commit (by the outbox).
    """
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != DeliveryState.QUEUED:
        return False
    if not delivery.brand.contact_email:
        # Retrying cannot help: fail now, visibly, until a moderator adds the address.
        delivery.state = DeliveryState.FAILED
        delivery.failed_at = utcnow()
        delivery.failure_reason = NO_CONTACT_REASON % {"brand": delivery.brand.name}
        db.session.commit()
        return False
    packages.build(delivery)
    delivery.state = DeliveryState.SENT
    delivery.sent_at = utcnow()
    delivery.failure_reason = None
    campaign = delivery.campaign
    email = render_email(
        "delivery",
        to=delivery.brand.contact_email,
        # Brands have no language of their own on Groundswell: their email is in English.
        subject=ngettext(
            "%(count)s customer asks %(brand)s: %(title)s",
            "%(count)s customers ask %(brand)s: %(title)s",
            delivery.support_count,
            count=format_decimal(delivery.support_count),
            brand=delivery.brand.name,
            title=campaign.title,
        ),
        delivery=delivery,
        campaign=campaign,
        brand=delivery.brand,
        link=delivery_link(delivery),
        verify_url=external_url("deliveries.verify", digest=delivery.digest, seal=delivery.seal),
        statement_url=external_url(
            "deliveries.download", token=delivery_link_token(delivery), name="statement.json"
        ),
        keys_url=external_url("deliveries.keys"),
        campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
        claim_url=external_url("brands.claim", slug=delivery.brand.slug),
    )
    add_notice("delivered", delivery.id)
    return send_once(f"delivery:{delivery.id}", email)


@app_job
def delivery_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: keep the reason; after the last retry, mark the round failed."""
    delivery = db.session.get(Delivery, job.args[0])
    if delivery is None or delivery.state != DeliveryState.QUEUED:
        return
    # The organiser sees a plain reason; the technical detail (hosts, server replies) is logged.
    log.warning("delivery %s attempt failed: %s: %s", delivery.id, exc_type.__name__, exc_value)
    delivery.failure_reason = _reason_for(exc_type)
    if not job.retries_left:
        delivery.state = DeliveryState.FAILED
        delivery.failed_at = utcnow()
        log.error("delivery %s failed for good: %s", delivery.id, delivery.failure_reason)
    db.session.commit()


def _reason_for(exc_type: type[BaseException]) -> str:
    if issubclass(exc_type, (smtplib.SMTPException, ConnectionError, TimeoutError, OSError)):
        return UNREACHABLE_REASON
    return OUR_ERROR_REASON
