"""Emails about proposals' co-authors."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.models import CoAuthor
from campaign.urls import external_url


@app_job
def send_coauthor_invitation(invitation_id: int) -> bool:
    """Tell an invited member that they may co-author a proposal; once per invitation.

    The organiser's page says the same whether or not the address has an account: this
    email is how the invitee learns of it. False when there is nothing to send.
    """
    invitation = db.session.get(CoAuthor, invitation_id)
    if invitation is None or invitation.accepted_at is not None:
        return False
    user, campaign = invitation.user, invitation.campaign
    with writing_to(user):
        email = render_email(
            "coauthor_invite",
            to=user.email,
            subject=_("You are invited to co-author “%(title)s”", title=campaign.title),
            user=user,
            campaign=campaign,
            campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
            account_url=external_url("accounts.profile"),
        )
    return send_once(f"coauthor-invite:{invitation.id}", email)
