"""Account emails: verification and password reset."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.mail import render_email, send_once
from campaign.models import User
from campaign.tokens import make_token
from campaign.urls import external_url


@app_job
def send_verification_email(user_id: int, request_id: str) -> bool:
    """Email ``user_id`` a link that verifies their address; once per ``request_id``.

    Returns False when there is nothing to send (already verified, unknown user, or this
    request's email already went out).
    """
    user = db.session.get(User, user_id)
    if user is None or user.is_verified:
        return False
    token = make_token("verify-email", {"u": user.id, "e": user.email, "p": user.password_fingerprint})
    with writing_to(user):
        email = render_email(
            "verify",
            to=user.email,
            subject=_("Confirm your email address for Groundswell"),
            user=user,
            link=external_url("auth.verify", token=token),
        )
    return send_once(f"verify:{user.id}:{request_id}", email)


@app_job
def send_password_reset(user_id: int, request_id: str) -> bool:
    """Email ``user_id`` a single-use, expiring link to choose a new password."""
    user = db.session.get(User, user_id)
    if user is None:
        return False
    token = make_token("reset-password", {"u": user.id, "p": user.password_fingerprint})
    with writing_to(user):
        email = render_email(
            "reset",
            to=user.email,
            subject=_("Reset your Groundswell password"),
            user=user,
            link=external_url("auth.reset_password", token=token),
        )
    return send_once(f"reset:{user.id}:{request_id}", email)


@app_job
def send_account_exists(user_id: int, day: str) -> bool:
    """Tell an account's owner, at most once a day, that someone signed up with their
    address (the sign-up page itself says nothing about it)."""
    user = db.session.get(User, user_id)
    if user is None:
        return False
    with writing_to(user):
        email = render_email(
            "account_exists",
            to=user.email,
            subject=_("Someone tried to sign up with your address"),
            user=user,
            login_url=external_url("auth.login"),
            reset_url=external_url("auth.request_reset"),
        )
    return send_once(f"account-exists:{user.id}:{day}", email)


def _user_by_email(email: str) -> User | None:
    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()


@app_job
def send_password_reset_to(email: str, request_id: str) -> bool:
    """Send the reset link of the account at ``email`` (normalised), if there is one.

    The lookup happens here so that the page asking for it cannot be timed to tell known
    addresses from unknown ones.
    """
    user = _user_by_email(email)
    return send_password_reset(user.id, request_id) if user is not None else False


@app_job
def send_verification_to(email: str, request_id: str) -> bool:
    """Send a new verification link to the unverified account at ``email``, if there is one."""
    user = _user_by_email(email)
    return send_verification_email(user.id, request_id) if user is not None else False
