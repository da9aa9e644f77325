"""Supporters' reasons (the public comment on a support): listed, liked, reported, hidden
and featured.

A reason is public while its support counts, was made public, is not anonymised and no
moderator hid it.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select, func, select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import REASON_IS_PUBLIC, Campaign, ReasonLike, ReasonReport, Support, utcnow
from campaign.services import ServiceError, require_moderator

SORTS = ("newest", "liked")


def public_reasons(campaign_id: int) -> Select:
    """Supports of ``campaign_id`` whose reason anyone may read."""
    return select(Support).where(Support.campaign_id == campaign_id, REASON_IS_PUBLIC)


def _likes():
    return (
        select(func.count()).where(ReasonLike.support_id == Support.id).correlate(Support).scalar_subquery()
    )


def reasons_page(
    campaign_id: int, sort: str, page: int, per_page: int = 10, up_to_support_id: int | None = None
):
    """A page of supports with a public reason, newest or most liked first; the page's
    ``likes`` maps each support's id to its like count."""
    likes = _likes()
    stmt = public_reasons(campaign_id)
    if up_to_support_id is not None:
        stmt = stmt.where(Support.id <= up_to_support_id)
    if sort == "liked":
        stmt = stmt.order_by(likes.desc(), Support.confirmed_at.desc(), Support.id.desc())
    else:
        stmt = stmt.order_by(Support.confirmed_at.desc(), Support.id.desc())
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False, count=True)
    ids = [s.id for s in pagination.items]
    pagination.likes = (
        dict(
            db.session.execute(
                select(ReasonLike.support_id, func.count())
                .where(ReasonLike.support_id.in_(ids))
                .group_by(ReasonLike.support_id)
            ).all()
        )
        if ids
        else {}
    )
    return pagination


def featured_reason(campaign_id: int) -> Support | None:
    return db.session.execute(
        public_reasons(campaign_id).where(Support.reason_featured_at.is_not(None))
    ).scalar()


def liked_by(user_id: int | None, support_ids: list[int]) -> set[int]:
    if not user_id or not support_ids:
        return set()
    return set(
        db.session.execute(
            select(ReasonLike.support_id).where(
                ReasonLike.user_id == user_id, ReasonLike.support_id.in_(support_ids)
            )
        ).scalars()
    )


def _public_reason(campaign_id: int, support_id: int) -> Support:
    support = db.session.execute(public_reasons(campaign_id).where(Support.id == support_id)).scalar()
    if support is None:
        raise ServiceError(_("That reason is no longer shown."))
    return support


def like_reason(campaign_id: int, support_id: int, user_id: int) -> bool:
    """A member likes a reason; once (the database's unique constraint decides). Commits.
    True if this like is new."""
    support = _public_reason(campaign_id, support_id)
    if support.user_id == user_id:
        raise ServiceError(_("You cannot like your own reason."))
    new_id = insert_ignoring_conflicts(
        ReasonLike, ["support_id", "user_id"], support_id=support.id, user_id=user_id, created_at=utcnow()
    )
    db.session.commit()
    return new_id is not None


def report_reason(campaign_id: int, support_id: int, reporter: str, reason: str = "") -> bool:
    """Anyone reports a reason to the moderators, once per ``reporter`` ("u:<id>" or
    "ip:<key>"). Commits. True if newly reported."""
    support = _public_reason(campaign_id, support_id)
    new_id = insert_ignoring_conflicts(
        ReasonReport,
        ["support_id", "reporter"],
        support_id=support.id,
        reporter=reporter[:40],
        reason=" ".join(reason.split())[:300],
        created_at=utcnow(),
    )
    db.session.commit()
    return new_id is not None


def reported_reasons() -> list[tuple[Support, int]]:
    """Shown reasons with reports, most reported first (the moderators' queue)."""
    reports = func.count(ReasonReport.id)
    rows = db.session.execute(
        select(Support, reports)
        .join(ReasonReport, ReasonReport.support_id == Support.id)
        .where(Support.reason_hidden_at.is_(None))
        .group_by(Support.id)
        .order_by(reports.desc(), Support.id)
        .limit(100)
    ).all()
    return [(s, n) for s, n in rows]


def hide_reason(support_id: int, moderator_id: int) -> None:
    """A moderator hides a reason from every page (the support still counts). Commits."""
    require_moderator(moderator_id, _("Only moderators can hide reasons."))
    db.session.execute(
        update(Support)
        .where(Support.id == support_id, Support.reason_hidden_at.is_(None))
        .values(reason_hidden_at=utcnow(), reason_featured_at=None)
    )
    db.session.execute(ReasonReport.__table__.delete().where(ReasonReport.support_id == support_id))
    db.session.commit()


def feature_reason(campaign_id: int, support_id: int, user_id: int) -> bool:
    """The organiser features a reason on the campaign page (one at a time), or un-features
    the one featured. Commits. True if it is now featured."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can feature a reason."))
    support = _public_reason(campaign_id, support_id)
    was_featured = support.reason_featured_at is not None
    db.session.execute(
        update(Support)
        .where(Support.campaign_id == campaign_id, Support.reason_featured_at.is_not(None))
        .values(reason_featured_at=None)
    )
    if not was_featured:
        db.session.execute(
            update(Support).where(Support.id == support.id).values(reason_featured_at=utcnow())
        )
    db.session.commit()
    return not was_featured
