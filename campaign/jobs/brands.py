"""Emails about brand membership."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.models import BrandMember
from campaign.tokens import make_token
from campaign.urls import external_url


@app_job
def send_claim_verification(member_id: int) -> bool:
    """Email the work address of a claim a link that verifies it; once per claim."""
    member = db.session.get(BrandMember, member_id)
    if member is None or member.verified_at is not None or not member.claim_email:
        return False
    token = make_token("brand-claim", {"m": member.id, "e": member.claim_email})
    with writing_to(member.user):
        email = render_email(
            "claim_verify",
            to=member.claim_email,
            subject=_("Confirm that you speak for %(brand)s on Groundswell", brand=member.brand.name),
            member=member,
            link=external_url("brands.verify_claim", token=token),
        )
    return send_once(f"claim:{member.id}", email)
