"""Brands: suggestions and moderation, certifications, and members' claims."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import Brand, BrandMember, Campaign, Certification, Endorsement, utcnow
from campaign.outbox import later
from campaign.services import ServiceError, require_moderator
from campaign.services.campaigns import slugify
from campaign.tokens import read_token


def _unique_slug_save(brand: Brand) -> Brand:
    base = slugify(brand.name)
    for attempt in range(5):
        brand.slug = base if attempt == 0 else f"{base}-{uuid.uuid4().hex[:6]}"
        db.session.add(brand)
        try:
            db.session.commit()
            return brand
        except IntegrityError:
            db.session.rollback()
    raise ServiceError(_("Could not find a free web address for this name; try another name."))


def _check_parent(brand: Brand, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = db.session.get(Brand, parent_id)
    if parent is None:
        raise ServiceError(_("The parent brand does not exist."))
    if brand.id is not None and (parent.id == brand.id or brand in parent.ancestors()):
        raise ServiceError(_("A brand cannot be owned by itself or by a brand it owns."))


def save_brand(moderator_id: int, brand_id: int | None, data: dict[str, Any]) -> Brand:
    """Create (``brand_id`` None) or edit a brand as a moderator. Commits."""
    require_moderator(moderator_id)
    brand = db.session.get(Brand, brand_id) if brand_id else Brand(approved_at=utcnow())
    if brand is None:
        raise ServiceError(_("No such brand."))
    _check_parent(brand, data.get("parent_id"))
    for name in ("name", "description", "website", "contact_email", "parent_id", "email_domains"):
        if name in data:
            setattr(brand, name, data[name])
    if brand_id:
        db.session.commit()
        return brand
    return _unique_slug_save(brand)


def suggest_brand(user_id: int, data: dict[str, Any]) -> Brand:
    """A member suggests a brand; it stays hidden until a moderator approves it. Commits."""
    brand = Brand(
        name=data["name"],
        website=data.get("website"),
        description=data.get("description") or "",
        suggested_by_id=user_id,
        parent_id=data.get("parent_id"),
    )
    _check_parent(brand, data.get("parent_id"))
    return _unique_slug_save(brand)


def approve_brand(brand_id: int, moderator_id: int) -> Brand:
    require_moderator(moderator_id)
    brand = db.session.get(Brand, brand_id)
    if brand is None or brand.approved_at is not None:
        raise ServiceError(_("This brand is not waiting for approval."))
    brand.approved_at = utcnow()
    db.session.commit()
    return brand


def add_certification(
    moderator_id: int,
    brand_id: int,
    *,
    name: str,
    issuer: str,
    evidence_url: str | None,
    expires_on: date | None,
    verified: bool,
) -> Certification:
    moderator = require_moderator(moderator_id)
    cert = Certification(
        brand_id=brand_id,
        name=name,
        issuer=issuer,
        evidence_url=evidence_url,
        expires_on=expires_on,
        verified_at=utcnow() if verified else None,
        verified_by_id=moderator.id if verified else None,
    )
    db.session.add(cert)
    db.session.commit()
    return cert


def claim_brand(user_id: int, brand_id: int, work_email: str | None, title: str) -> BrandMember:
    """Claim to speak for a brand. Commits.

    With an address at one of the brand's verified domains, a link is emailed there (the
    claim is verified when it is opened); without one, a moderator decides. Raises
    ServiceError for a second claim or an address outside the brand's domains.
    """
    brand = db.session.get(Brand, brand_id)
    if brand is None or brand.approved_at is None:
        raise ServiceError(_("No such brand."))
    email = (work_email or "").strip().lower() or None
    if email is not None and email.rpartition("@")[2] not in brand.domains:
        domains = ", ".join(brand.domains) or _("none yet")
        raise ServiceError(
            _(
                "Use an address at one of %(brand)s's verified domains "
                "(%(domains)s), or leave it empty to ask a moderator.",
                brand=brand.name,
                domains=domains,
            )
        )
    member = BrandMember(brand_id=brand.id, user_id=user_id, title=title.strip(), claim_email=email)
    db.session.add(member)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_("You have already claimed %(brand)s.", brand=brand.name)) from None
    if email is not None:
        later("claim-verification", member.id)
    db.session.commit()
    return member


def member_for_claim_token(token: str, max_age: int) -> BrandMember:
    """The claim a link is for, without changing anything; raises TokenError/ServiceError."""
    payload = read_token("brand-claim", token, max_age)
    member = db.session.get(BrandMember, payload["m"])
    if member is None or member.claim_email != payload["e"]:
        raise ServiceError(_("This link is for a claim that no longer exists."))
    return member


def verify_claim(token: str, max_age: int) -> BrandMember:
    """Verify a claim from the link sent to the work address. Idempotent. Commits."""
    member = member_for_claim_token(token, max_age)
    if member.verified_at is None:
        member.verified_at = utcnow()
        db.session.commit()
    return member


def approve_claim(member_id: int, moderator_id: int) -> BrandMember:
    moderator = require_moderator(moderator_id)
    member = db.session.get(BrandMember, member_id)
    if member is None or member.verified_at is not None:
        raise ServiceError(_("This claim is not waiting for approval."))
    member.verified_at = utcnow()
    member.approved_by_id = moderator.id
    db.session.commit()
    return member


def reject_claim(member_id: int, moderator_id: int) -> None:
    """Refuse a claim that is waiting (its row goes, so the person may claim again). Commits."""
    require_moderator(moderator_id)
    member = db.session.get(BrandMember, member_id)
    if member is None or member.verified_at is not None:
        raise ServiceError(_("This claim is not waiting for a decision."))
    db.session.delete(member)
    db.session.commit()


def reject_brand(brand_id: int, moderator_id: int) -> str:
    """Refuse a suggested brand nobody uses yet. Commits; returns its name."""

    require_moderator(moderator_id)
    brand = db.session.get(Brand, brand_id)
    if brand is None or brand.approved_at is not None:
        raise ServiceError(_("This brand is not waiting for approval."))
    used = db.session.execute(
        db.select(Campaign.id)
        .where(Campaign.target_brand_id == brand.id)
        .union(db.select(Endorsement.campaign_id).where(Endorsement.brand_id == brand.id))
    ).first()
    if used or brand.subsidiaries:
        raise ServiceError(_("This brand is used already; edit it instead."))
    name = brand.name
    db.session.delete(brand)
    db.session.commit()
    return name
