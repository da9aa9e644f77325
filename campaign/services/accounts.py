"""Sign-up, email verification and password reset."""

from __future__ import annotations

import uuid

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from campaign.extensions import db
from campaign.models import DigestItem, EmailFrequency, User, utcnow
from campaign.outbox import later
from campaign.services import ServiceError
from campaign.tokens import TokenError, make_token, read_token


def normalise_account_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        db.select(User).filter_by(email=normalise_account_email(email))
    ).scalar_one_or_none()


_DUMMY_HASHES: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    """The user with this email and password, or None.

    An unknown address costs the same hashing time as a wrong password, so timing does not
    tell which addresses have accounts.
    """
    user = find_user_by_email(email)
    if user is None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        if method not in _DUMMY_HASHES:
            _DUMMY_HASHES[method] = generate_password_hash("not a password", method=method)

        check_password_hash(_DUMMY_HASHES[method], password)
        return None
    return user if user.check_password(password) else None


def set_language(user_id: int, locale: str) -> None:
    """Store the language a member reads (their emails are written in it). Commits."""
    db.session.execute(update(User).where(User.id == user_id).values(locale=locale))
    db.session.commit()


def register(email: str, name: str, password: str, locale: str | None = None) -> User | None:
    """Create an unverified member and enqueue the verification email. Commits.

    If an account already uses the address (the unique constraint decides, so two
    simultaneous sign-ups cannot both win), nothing is created: its owner is emailed
    instead, and None is returned. Either way the caller shows the same page, after the same
    hashing work, so sign-up does not reveal which addresses have accounts.
    """
    user = User(email=normalise_account_email(email), name=name.strip(), locale=locale)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = find_user_by_email(email)
        if existing is not None:
            later("account-exists", existing.id, utcnow().date().isoformat())
            db.session.commit()
        return None
    request_verification(user.id)
    return user


def request_verification(user_id: int) -> None:
    """Enqueue a fresh verification email for ``user_id``. Commits."""
    later("verify-email", user_id, uuid.uuid4().hex)
    db.session.commit()


def user_for_verify_token(token: str) -> User:
    """The account a verification link is for, without changing anything.

    Raises :class:`~campaign.tokens.TokenError` for an expired or forged token, or one sent
    before the password last changed, and :class:`ServiceError` when the account's address
    changed since the link was sent.
    """
    payload = read_token("verify-email", token, current_app.config["EMAIL_TOKEN_MAX_AGE"])
    user = db.session.get(User, payload["u"])
    if user is None or user.email != payload["e"]:
        raise ServiceError(_("This link is for an address that is no longer on an account."))
    if payload.get("p") != user.password_fingerprint:
        raise TokenError(expired=False)
    return user


def verify_email(token: str) -> tuple[User, bool]:
    """Mark the address in ``token`` verified. Idempotent: a second use is not an error.

    Returns the user and whether this use verified the address (only that use may log a
    session in: a used link must not open the account again). Commits. Raises like
    :func:`user_for_verify_token`.
    """
    user = user_for_verify_token(token)
    # One UPDATE decides which of two simultaneous uses verified the address.
    verified = (
        db.session.execute(
            update(User)
            .where(User.id == user.id, User.email_verified_at.is_(None))
            .values(email_verified_at=utcnow())
        ).rowcount
        == 1
    )
    db.session.commit()
    db.session.refresh(user)
    return user, verified


def request_password_reset(email: str) -> None:
    """Enqueue a reset link for ``email``, which the job sends only if it has an account.

    The address is looked up by the job, not here, so the request does the same work (and
    takes the same time) for an unknown address as for a known one.
    """
    later("reset-password", normalise_account_email(email), uuid.uuid4().hex)
    db.session.commit()


def request_verification_for(email: str) -> None:
    """Enqueue a new verification link for ``email``, sent only if it has an unverified
    account; looked up by the job, like :func:`request_password_reset`."""
    later("verify-address", normalise_account_email(email), uuid.uuid4().hex)
    db.session.commit()


def user_for_reset_token(token: str) -> User:
    """The user a reset token is for; raises TokenError if stale, forged or already used."""
    payload = read_token("reset-password", token, current_app.config["RESET_TOKEN_MAX_AGE"])
    user = db.session.get(User, payload["u"])
    # The token carries a keyed digest of the old hash: once the password changes it is spent.
    if user is None or user.password_fingerprint != payload["p"]:
        raise TokenError(expired=False)
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link; also verifies the email it was sent to. Commits."""
    user = user_for_reset_token(token)
    user.set_password(password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    db.session.commit()
    return user


def set_email_frequency(user_id: int, frequency: str) -> User:
    """Set how often member ``user_id`` is emailed notices. Commits.

    Choosing "never" drops what was waiting for their digest; anything else keeps it for the
    next digest (the daily one, for a member who now wants notices at once). Raises
    :class:`ServiceError` for a frequency that does not exist, changing nothing.
    """
    try:
        choice = EmailFrequency(frequency)
    except ValueError:
        raise ServiceError(_("Choose immediately, daily, weekly or never.")) from None
    user = db.session.get(User, user_id)
    user.email_frequency = choice
    if choice == EmailFrequency.NEVER:
        forget_pending(user.id)
    db.session.commit()
    return user


def member_token(user: User) -> str:
    """The signed token of a member's one-click "stop all notices" link, read back by
    :func:`user_for_unsubscribe_token`."""
    return make_token("member-unsubscribe", {"u": user.id, "e": user.email})


def forget_pending(user_id: int) -> None:
    """Drop what was held for a member's digest who now wants no notices (caller commits)."""
    db.session.execute(
        delete(DigestItem).where(DigestItem.user_id == user_id, DigestItem.digest_key.is_(None))
    )


def user_for_unsubscribe_token(token: str) -> User:
    """The member a one-click "stop all notices" link is for.

    Raises :class:`~campaign.tokens.TokenError` for a stale or forged token, or one for an
    address that is no longer the account's.
    """
    payload = read_token("member-unsubscribe", token, current_app.config["STANDING_TOKEN_MAX_AGE"])
    user = db.session.get(User, payload["u"])
    if user is None or user.email != payload["e"]:
        raise TokenError(expired=False)
    return user
