"""A person's data: what consent they gave, a download of what we hold, erasure; and the
anonymisation of supporters' details some time after a campaign ends (counts stay)."""

from __future__ import annotations

import functools
import secrets
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from campaign.extensions import db
from campaign.kinds import Kind, kind_of
from campaign.models import (
    Campaign,
    CampaignState,
    CampaignTerms,
    Comment,
    Support,
    User,
    canonical_email,
    utcnow,
)
from campaign.outbox import later

ERASED_NAME = "Erased supporter"


def request_link(email: str, locale: str | None = None) -> None:
    """Email ``email`` (normalised) a one-day link to see and erase what we hold about it, in
    ``locale``. Enqueued through the outbox (nothing is stored); commits."""
    later("privacy-link", email, uuid.uuid4().hex, locale)
    db.session.commit()


def consent_text(campaign: Campaign | CampaignTerms, is_public: bool, consents_to_updates: bool) -> str:
    """The words a supporter agrees to, as stored with their support (in the language they
    read them in). Put together once per language, campaign title and choices in each
    process: a surge on one campaign asks for the same few texts with every signature."""
    return _consent_text(
        str(get_locale()), kind_of(campaign), campaign.title, bool(is_public), bool(consents_to_updates)
    )


@functools.lru_cache(maxsize=1024)
def _consent_text(locale: str, kind: Kind, title: str, is_public: bool, consents_to_updates: bool) -> str:
    # Called in ``locale`` (the current language, part of the key only).
    parts = [
        _(
            "I support the %(noun)s “%(title)s” (%(verb)s).",
            noun=kind.noun,
            title=title,
            verb=kind.support_verb.lower(),
        ),
        _(
            "Groundswell keeps my name, email, country and postcode to count my support, to "
            "deliver it to the brand without my email, and to let me confirm or withdraw it."
        ),
        _("My name may be shown publicly.") if is_public else _("My name is not shown publicly."),
        _("I agree to receive emails about this campaign's progress; I can stop them at any time.")
        if consents_to_updates
        else _("I do not want emails about this campaign's progress."),
    ]
    return " ".join(parts)


def data_for(email: str) -> dict[str, Any]:
    """Everything held about the person with ``email``: their supports and, if they have
    one, their account, campaigns and comments."""
    canonical = canonical_email(email)
    supports = (
        db.session.execute(select(Support).where(Support.email_canonical == canonical).order_by(Support.id))
        .scalars()
        .all()
    )
    user = db.session.execute(select(User).filter_by(email=email.strip().lower())).scalar()
    data: dict[str, Any] = {
        "email": email.strip().lower(),
        "supports": [
            {
                "campaign": s.campaign.title,
                "kind": str(s.campaign.noun),
                "name": s.name,
                "email": s.email,
                "country": s.country,
                "postcode": s.postcode,
                "comment": s.comment,
                "name_shown_publicly": s.is_public,
                "emails_about_progress": s.consents_to_updates,
                "monthly_spend": s.monthly_spend,
                "consent": s.consent_text,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "withdrawn_at": _iso(s.withdrawn_at),
            }
            for s in supports
        ],
    }
    if user is not None:
        data["account"] = {
            "name": user.name,
            "email": user.email,
            "role": user.role.value,
            "created_at": _iso(user.created_at),
            "email_verified_at": _iso(user.email_verified_at),
            "campaigns": list(
                db.session.execute(
                    select(Campaign.title).filter_by(organiser_id=user.id).order_by(Campaign.id)
                ).scalars()
            ),
            "comments": [
                c.body for c in db.session.execute(select(Comment).filter_by(user_id=user.id)).scalars()
            ],
        }
    return data


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _anonymise_supports(where, name: str) -> int:
    now = utcnow()
    rows = db.session.execute(select(Support.id).where(where)).scalars().all()
    for support_id in rows:
        db.session.execute(
            update(Support)
            .where(Support.id == support_id)
            .values(
                name=name,
                email=f"erased-{support_id}@erased.invalid",
                email_canonical=f"erased-{support_id}",
                postcode=None,
                comment=None,
                ip_address=None,
                ip_key=None,
                consents_to_updates=False,
                is_public=False,
                anonymised_at=now,
            )
        )
    return len(rows)


def erase(email: str) -> int:
    """Erase the personal details of the person with ``email``. Commits.

    Supports keep counting (their country and dates stay, nothing that identifies anyone);
    an account is emptied and can no longer log in; comments say they were removed.
    Returns the number of supports erased.
    """
    canonical = canonical_email(email)
    erased = _anonymise_supports(Support.email_canonical == canonical, ERASED_NAME)
    user = db.session.execute(select(User).filter_by(email=email.strip().lower())).scalar()
    if user is not None:
        db.session.execute(
            update(Comment)
            .where(Comment.user_id == user.id)
            .values(body="*Removed at the author's request.*")
        )
        user.name = "Former member"
        user.email = f"erased-{user.id}@erased.invalid"
        user.set_password(secrets.token_urlsafe(32))  # also ends every session
    db.session.commit()
    return erased


def anonymise_ended_campaigns() -> list[int]:
    """Anonymise the supporters of campaigns that ended ``ANONYMISE_AFTER_DAYS`` ago. Commits.

    Counts, countries and dates stay; names, emails, postcodes and comments go.
    """
    cutoff = utcnow() - timedelta(days=current_app.config["ANONYMISE_AFTER_DAYS"])
    ended = (
        db.session.execute(
            select(Campaign.id).where(
                Campaign.anonymised_at.is_(None),
                Campaign.state.in_([CampaignState.CLOSED, CampaignState.WON, CampaignState.WITHDRAWN]),
                (
                    (Campaign.closed_at.is_not(None) & (Campaign.closed_at < cutoff))
                    | (Campaign.won_at.is_not(None) & (Campaign.won_at < cutoff))
                ),
            )
        )
        .scalars()
        .all()
    )
    for campaign_id in ended:
        _anonymise_supports(Support.campaign_id == campaign_id, "Anonymous supporter")
        db.session.execute(update(Campaign).where(Campaign.id == campaign_id).values(anonymised_at=utcnow()))
        db.session.commit()
    return list(ended)
