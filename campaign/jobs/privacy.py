"""Privacy jobs: the link that lets a person see and erase their data; nightly anonymising."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.services.privacy import anonymise_ended_campaigns
from campaign.tokens import make_token
from campaign.urls import external_url


@app_job
def send_privacy_link(email: str, request_id: str, locale: str | None = None) -> bool:
    """Email ``email`` a one-day link to download or erase what we hold about it, in the
    language it was asked in."""
    token = make_token("privacy", {"e": email})
    with writing_to(locale=locale):
        message = render_email(
            "privacy",
            to=email,
            subject=_("Your data on Groundswell"),
            link=external_url("privacy.show", token=token),
        )
    return send_once(f"privacy:{email}:{request_id}", message)


@app_job
def anonymise_job() -> int:
    return len(anonymise_ended_campaigns())
