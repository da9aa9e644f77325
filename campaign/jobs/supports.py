"""The email that confirms a pending support."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.models import Support
from campaign.services.abuse import confirmation_email_allowed
from campaign.services.supports import support_token
from campaign.urls import external_url


@app_job
def send_support_confirmation(support_id: int, send_number: int) -> bool:
    """Email the confirmation link of a pending support; once per ``send_number``."""
    support = db.session.get(Support, support_id)
    if support is None or support.email_confirmed_at is not None or support.withdrawn_at is not None:
        return False
    send_key = f"confirm-support:{support.id}:{send_number}"
    if not confirmation_email_allowed(send_key, support.email_canonical, support.ip_address):
        # Capped: the mailbox (or the typist's IP) had its share; the support stays pending.
        return False
    campaign = support.campaign
    with writing_to(support.user, support):
        email = render_email(
            "confirm_support",
            to=support.email,
            subject=_(
                "Confirm your %(support)s: %(title)s", support=campaign.support_noun, title=campaign.title
            ),
            support=support,
            campaign=campaign,
            act=str(campaign.support_noun),
            link=external_url("supports.confirm", token=support_token("confirm-support", support)),
            campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
        )
    return send_once(send_key, email)


@app_job
def send_already_supporting(support_id: int, day: str) -> bool:
    """Tell a supporter, at most once a day, that their support was already counted when
    someone submitted the form again with their address."""
    support = db.session.get(Support, support_id)
    if support is None or support.email_confirmed_at is None or support.withdrawn_at is not None:
        return False
    campaign = support.campaign
    with writing_to(support.user, support):
        email = render_email(
            "already_supporting",
            to=support.email,
            subject=_("You already support: %(title)s", title=campaign.title),
            support=support,
            campaign=campaign,
            campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
            withdraw_url=external_url("supports.withdraw", token=support_token("withdraw", support)),
        )
    return send_once(f"already:{support.id}:{day}", email)
