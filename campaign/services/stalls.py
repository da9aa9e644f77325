"""Stalls: an organiser opens one for a few hours at a place, with a named volunteer; people
sign there on a shared device through the stall's own link (or its QR code)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from campaign.extensions import db
from campaign.models import HELD_FOR_REVIEW, Campaign, CampaignState, Stall, Support, utcnow
from campaign.services import ServiceError
from campaign.services import supports as support_service

#: The longest a stall stays open: a link that keeps working beyond the day would leak.
STALL_MAX_HOURS = 12


def open_stall(
    campaign_id: int, organiser_id: int, *, place: str, volunteer: str, opens_at: datetime | None, hours: int
) -> Stall:
    """Open a stall on the organiser's open campaign from ``opens_at`` (default now) for
    ``hours`` (1 to :data:`STALL_MAX_HOURS`). Commits; raises ServiceError."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != organiser_id:
        raise ServiceError(_("Only the organiser can open a stall."))
    if campaign.state != CampaignState.OPEN or campaign.is_past_closing():
        raise ServiceError(_("Only an open campaign can have a stall."))
    if not 1 <= hours <= STALL_MAX_HOURS:
        raise ServiceError(_("A stall stays open from 1 to %(hours)s hours.", hours=STALL_MAX_HOURS))
    now = utcnow()
    opens_at = opens_at or now
    if opens_at + timedelta(hours=hours) <= now:
        raise ServiceError(_("That stall would already be over: choose a later start."))
    if opens_at > now + timedelta(days=60):
        raise ServiceError(_("Open a stall at most 60 days ahead."))
    stall = Stall(
        campaign_id=campaign.id,
        place=place.strip()[:120],
        volunteer=volunteer.strip()[:100],
        opens_at=opens_at,
        closes_at=opens_at + timedelta(hours=hours),
        created_by_id=organiser_id,
        created_at=now,
    )
    db.session.add(stall)
    db.session.commit()
    return stall


def close_stall(stall_id: int, campaign_id: int) -> bool:
    """Stop a stall of this campaign taking supports. Commits; False if it was closed."""
    row = db.session.execute(
        update(Stall)
        .where(Stall.id == stall_id, Stall.campaign_id == campaign_id, Stall.closed_at.is_(None))
        .values(closed_at=utcnow())
        .returning(Stall.id)
    ).first()
    db.session.commit()
    return row is not None


def stall_by_token(token: str) -> Stall | None:
    if not token or len(token) > 32:
        return None
    return db.session.execute(select(Stall).filter_by(token=token)).scalar_one_or_none()


def sign_at_stall(
    stall_id: int, form_data: dict, ip_address: str | None, locale: str | None
) -> support_service.SupportResult:
    """One person's support made at the stall. Commits (through ``add_support``).

    Never tied to an account: whoever is logged in on the stall's device is not the signer.
    Raises ServiceError when the stall is closed or not open yet, and SupportRefused when
    the campaign no longer takes support.
    """
    stall = db.session.get(Stall, stall_id)
    if stall is None or not stall.is_open():
        raise ServiceError(_("This stall is not open now, so it takes no signatures."))
    return support_service.add_support(
        stall.campaign_id, **form_data, user_id=None, ip_address=ip_address, locale=locale, stall_id=stall.id
    )


def campaign_stalls(campaign_id: int) -> list[Stall]:
    return list(
        db.session.execute(
            select(Stall)
            .where(Stall.campaign_id == campaign_id)
            .order_by(Stall.opens_at.desc(), Stall.id.desc())
        ).scalars()
    )


def open_stalls() -> list[Stall]:
    """Stalls taking supports now or later (closing soonest first), for moderators."""
    return list(
        db.session.execute(
            select(Stall)
            .where(Stall.closed_at.is_(None), Stall.closes_at > utcnow())
            .order_by(Stall.closes_at, Stall.id)
        ).scalars()
    )


def stall_tallies(stall_ids: list[int]) -> dict[int, tuple[int, int]]:
    """``{stall_id: (supports, held for review)}`` (withdrawn ones left out)."""
    if not stall_ids:
        return {}
    held = func.count().filter(Support.suspect.in_(HELD_FOR_REVIEW))
    return {
        sid: (n, h)
        for sid, n, h in db.session.execute(
            select(Support.stall_id, func.count(), held)
            .where(Support.stall_id.in_(stall_ids), Support.withdrawn_at.is_(None))
            .group_by(Support.stall_id)
        ).all()
    }
