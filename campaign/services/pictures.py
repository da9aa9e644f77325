"""A campaign's picture and a brand's logo: added, replaced and removed.

The renditions are made in memory and checked before anything is written; the files are
written before the row that names them is committed, and removed again if that commit fails,
so a refused or failed upload leaves nothing on disk or in the database. Files nothing names
any more are removed after the commit.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select

from campaign import media
from campaign.extensions import db
from campaign.models import Brand, Campaign, CampaignState, User
from campaign.services import ServiceError, require_moderator

MAX_ALT = 300


def _alt_text(alt: str | None) -> str:
    alt = " ".join((alt or "").split())
    if not alt:
        raise ServiceError(_("Describe the picture for people who cannot see it (alt text)."))
    if len(alt) > MAX_ALT:
        raise ServiceError(_("Keep the description under %(max)s characters.", max=MAX_ALT))
    return alt


def key_in_use(key: str | None) -> bool:
    """True while a campaign or a brand still names the picture ``key``."""
    if not key:
        return False
    return db.session.execute(
        select(exists().where(Campaign.picture == key) | exists().where(Brand.logo == key))
    ).scalar()


def _save(row, column: str, data: bytes, alt: str, *, logo: bool = False) -> None:
    """Make the renditions, write them, point ``row.<column>`` at them and commit."""
    alt = _alt_text(alt)
    try:
        key, made = media.renditions(data, logo=logo)
    except media.PictureError as exc:
        raise ServiceError(str(exc)) from None
    old = getattr(row, column)
    created = media.store(made)
    try:
        setattr(row, column, key)
        setattr(row, f"{column}_alt", alt)
        if isinstance(row, Campaign):
            row.picture_removed_reason = None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        media.discard(created)
        raise
    if old != key:
        media.remove_unused(old, key_in_use(old))


def _clear(row, column: str, reason: str | None = None) -> None:
    old = getattr(row, column)
    setattr(row, column, None)
    setattr(row, f"{column}_alt", None)
    if isinstance(row, Campaign):
        row.picture_removed_reason = reason
    db.session.commit()
    media.remove_unused(old, key_in_use(old))


def _organisers_campaign(campaign_id: int, user_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can change the picture."))
    if campaign.state in (CampaignState.HIDDEN, CampaignState.WITHDRAWN):
        raise ServiceError(_("This %(noun)s can no longer be changed.", noun=campaign.noun))
    return campaign


def set_campaign_picture(campaign_id: int, user_id: int, data: bytes, alt: str) -> Campaign:
    """The organiser adds or replaces the campaign's picture. Commits. Raises
    :class:`ServiceError` (nothing stored) for a bad file, a missing description or a
    stranger."""
    campaign = _organisers_campaign(campaign_id, user_id)
    _save(campaign, "picture", data, alt)
    return campaign


def remove_campaign_picture(campaign_id: int, user_id: int) -> None:
    """The organiser removes the picture. Commits."""
    _clear(_organisers_campaign(campaign_id, user_id), "picture")


def moderator_remove_picture(campaign_id: int, moderator_id: int, reason: str) -> None:
    """A moderator removes a campaign's picture; the reason is shown to the organiser.
    Commits."""
    require_moderator(moderator_id, _("Only moderators can remove pictures."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise ServiceError(_("Give the organiser a reason."))
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.picture:
        raise ServiceError(_("This campaign has no picture."))
    _clear(campaign, "picture", reason[:1000])


def _logo_editor(brand_id: int, user_id: int) -> Brand:
    brand = db.session.get(Brand, brand_id)
    user = db.session.get(User, user_id)
    if brand is None or user is None or not user.answers_for(brand.id):
        raise ServiceError(_("Only a verified member of the brand or a moderator can change its logo."))
    return brand


def set_brand_logo(brand_id: int, user_id: int, data: bytes, alt: str) -> Brand:
    """A verified member of the brand, or a moderator, adds or replaces its logo. Commits."""
    brand = _logo_editor(brand_id, user_id)
    _save(brand, "logo", data, alt, logo=True)
    return brand


def remove_brand_logo(brand_id: int, user_id: int) -> None:
    _clear(_logo_editor(brand_id, user_id), "logo")


def referenced_keys() -> set[str]:
    """Every picture key a row names (for checks and clean-ups)."""
    rows = db.session.execute(
        select(Campaign.picture)
        .where(Campaign.picture.is_not(None))
        .union(select(Brand.logo).where(or_(Brand.logo.is_not(None))))
    ).scalars()
    return set(rows)
