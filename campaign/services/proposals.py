"""Co-creation proposals: co-authors, similar ideas, comments, brand statuses, duplicates."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.markdown import render_markdown
from campaign.models import (
    CampaignState,
    CoAuthor,
    Comment,
    CommentReport,
    CountDelta,
    Proposal,
    ProposalStatus,
    StatusChange,
    Support,
    User,
    day_of,
    utcnow,
)
from campaign.outbox import add_notice, later
from campaign.services import ServiceError, require_moderator

_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


def _proposal(campaign_id: int) -> Proposal:
    proposal = db.session.get(Proposal, campaign_id)
    if proposal is None:
        raise ServiceError(_("No such proposal."))
    return proposal


def invite_coauthor(campaign_id: int, inviter_id: int, email: str) -> int | None:
    """The organiser invites a member (by their account email) to co-author. Commits, then
    enqueues an email telling the invitee.

    Whether the address has an account, or was already invited, is not told to the
    organiser (the caller answers the same either way): returns the new invitation's id, or
    None when nothing was invited. Raises :class:`ServiceError` only for what the organiser
    already knows (not the organiser; their own address).
    """
    proposal = _proposal(campaign_id)
    if proposal.organiser_id != inviter_id:
        raise ServiceError(_("Only the organiser can invite co-authors."))
    inviter = db.session.get(User, inviter_id)
    if inviter.email == email.strip().lower():
        raise ServiceError(_("You are already the author."))
    invitee = db.session.execute(select(User).filter_by(email=email.strip().lower())).scalar_one_or_none()
    if invitee is None:
        return None
    invitation_id = insert_ignoring_conflicts(
        CoAuthor,
        ["campaign_id", "user_id"],
        campaign_id=proposal.id,
        user_id=invitee.id,
        invited_by_id=inviter_id,
        created_at=utcnow(),
    )
    if invitation_id is not None:
        later("coauthor-invitation", invitation_id)
    db.session.commit()
    return invitation_id


def accept_coauthorship(invitation_id: int, user_id: int) -> CoAuthor:
    invitation = db.session.get(CoAuthor, invitation_id)
    if invitation is None or invitation.user_id != user_id:
        raise ServiceError(_("This invitation is not yours."))
    if invitation.accepted_at is None:
        invitation.accepted_at = utcnow()
        db.session.commit()
    return invitation


def similar_open_proposals(
    brand_id: int, title: str, exclude_id: int | None = None, limit: int = 5
) -> list[Proposal]:
    """Open proposals to ``brand_id`` sharing words of four letters or more with ``title``,
    those sharing the most first. Never blocks anyone: it only suggests."""
    words = sorted({w.lower() for w in _WORD.findall(title)})[:8]
    if not words:
        return []
    stmt = select(Proposal).where(Proposal.target_brand_id == brand_id, Proposal.state == CampaignState.OPEN)
    if exclude_id:
        stmt = stmt.where(Proposal.id != exclude_id)

    candidates = (
        db.session.execute(
            stmt.where(or_(*(func.lower(Proposal.title).contains(w, autoescape=True) for w in words))).limit(
                50
            )
        )
        .scalars()
        .all()
    )

    def shared(p: Proposal) -> int:
        title_words = {w.lower() for w in _WORD.findall(p.title)}
        return len(title_words & set(words))

    return sorted(candidates, key=lambda p: (-shared(p), p.title))[:limit]


def add_comment(campaign_id: int, user_id: int, body: str, parent_id: int | None = None) -> Comment:
    """A member comments on a public proposal, or replies to a top-level comment. Commits."""
    proposal = _proposal(campaign_id)
    if not proposal.is_public:
        raise ServiceError(_("Comments open when the proposal is public."))
    if parent_id is not None:
        parent = db.session.get(Comment, parent_id)
        if parent is None or parent.campaign_id != proposal.id or parent.hidden_at:
            raise ServiceError(_("That comment is no longer there to reply to."))
        if parent.parent_id is not None:
            raise ServiceError(_("Replies go one level deep: reply to the original comment."))

    # Rendered once here: a page with many long comments must not render Markdown per view.
    comment = Comment(
        campaign_id=proposal.id,
        user_id=user_id,
        body=body.strip(),
        body_html=str(render_markdown(body.strip())),
        parent_id=parent_id,
    )
    db.session.add(comment)
    db.session.commit()
    return comment


def report_comment(comment_id: int, user_id: int, reason: str = "") -> bool:
    """Report a comment to the moderators; once per member. Commits. True if newly reported."""
    if db.session.get(Comment, comment_id) is None:
        raise ServiceError(_("No such comment."))
    new_id = insert_ignoring_conflicts(
        CommentReport,
        ["comment_id", "user_id"],
        comment_id=comment_id,
        user_id=user_id,
        reason=reason.strip()[:300],
        created_at=utcnow(),
    )
    db.session.commit()
    return new_id is not None


def hide_comment(comment_id: int, moderator_id: int) -> None:
    require_moderator(moderator_id, _("Only moderators can hide comments."))
    db.session.execute(
        update(Comment)
        .where(Comment.id == comment_id, Comment.hidden_at.is_(None))
        .values(hidden_at=utcnow())
    )
    db.session.commit()


def set_status(
    campaign_id: int, user: User, status: ProposalStatus, answer: str, duplicate_of_id: int | None = None
) -> StatusChange:
    """A verified member of the brand (or a moderator) sets the proposal's status with an
    official answer. Commits, then tells consenting endorsers (batched, once each).

    Marking it a duplicate moves its counted endorsements to the proposal it duplicates —
    one row per person there, whoever endorsed both — closes it, and tells those moved.
    """
    proposal = _proposal(campaign_id)
    brand = proposal.target_brand
    if not user.answers_for(brand.id if brand is not None else None):
        raise ServiceError(_("Only a verified member of the brand can set a proposal's status."))
    if not proposal.is_public:
        raise ServiceError(_("This proposal is not public."))
    if proposal.proposal_status == ProposalStatus.DUPLICATE:
        raise ServiceError(_("This proposal was merged into another one."))
    if not answer.strip():
        raise ServiceError(_("Give the official answer with the status."))
    target = None
    if status == ProposalStatus.DUPLICATE:
        target = db.session.get(Proposal, duplicate_of_id) if duplicate_of_id else None
        if target is None:
            raise ServiceError(_("Choose the proposal this one duplicates."))
        if target.id == proposal.id:
            raise ServiceError(_("A proposal cannot duplicate itself."))
        if target.state != CampaignState.OPEN or target.target_brand_id != proposal.target_brand_id:
            raise ServiceError(_("A duplicate must point at an open proposal to the same brand."))
    if target is not None:
        # Claim the merge: of two brand members marking it at once, one wins, once.
        claimed = db.session.execute(
            update(Proposal)
            .where(Proposal.id == proposal.id, Proposal.state == CampaignState.OPEN)
            .values(
                state=CampaignState.CLOSED,
                closed_at=utcnow(),
                duplicate_of_id=target.id,
                proposal_status=ProposalStatus.DUPLICATE,
            )
            .returning(Proposal.id)
        ).first()
        if claimed is None:
            db.session.rollback()
            raise ServiceError(_("This proposal was just merged or closed."))
        _move_endorsements(proposal, target)
    else:
        proposal.proposal_status = status
    change = StatusChange(
        campaign_id=proposal.id,
        status=status,
        answer=answer.strip(),
        author_id=user.id,
        author_name=user.name,
        duplicate_of_id=target.id if target else None,
        created_at=utcnow(),
    )
    db.session.add(change)
    db.session.flush()
    add_notice("status", change.id)
    later("fold")
    db.session.commit()
    return change


def _move_endorsements(source: Proposal, target: Proposal) -> int:
    """Move every endorsement of ``source`` to ``target`` in this transaction.

    Each person ends with one row on ``target`` (the unique constraint on the canonical email
    decides): a counted endorsement lands as a counted row there — a new one, or the
    person's pending row there confirmed. A row on ``target`` the person withdrew stays
    withdrawn (their choice there stands), and one held as suspect stays held (it never
    counts). Pending source rows move as pending. Source rows are marked withdrawn and
    moved. Returns how many people ``target`` gained.
    """
    rows = (
        db.session.execute(
            select(Support)
            .where(Support.campaign_id == source.id, Support.withdrawn_at.is_(None))
            .order_by(Support.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    gained = 0
    now = utcnow()
    for s in rows:
        counted = s.confirmed_at is not None
        new_id = insert_ignoring_conflicts(
            Support,
            ["campaign_id", "email_canonical"],
            campaign_id=target.id,
            user_id=s.user_id,
            email=s.email,
            email_canonical=s.email_canonical,
            name=s.name,
            is_public=s.is_public,
            country=s.country,
            postcode=s.postcode,
            comment=s.comment,
            # Another organiser's campaign: moved endorsers are told, never enrolled for email.
            consents_to_updates=False,
            confirmed_at=s.confirmed_at,
            # A suspect endorsement stays suspect where it lands: never counted there either.
            suspect=s.suspect,
            suspect_confirmed_at=s.suspect_confirmed_at,
            ip_address=s.ip_address,
            ip_key=s.ip_key,
            confirmation_sends=0,
            created_at=now,
        )
        became_counted = new_id is not None and counted
        country = s.country
        if new_id is None and counted:
            revived = db.session.execute(
                update(Support)
                .where(
                    Support.campaign_id == target.id,
                    Support.email_canonical == s.email_canonical,
                    Support.confirmed_at.is_(None),
                    Support.withdrawn_at.is_(None),
                    Support.suspect.is_(None),
                )
                .values(confirmed_at=s.confirmed_at)
                .returning(Support.country)
            ).first()
            became_counted = revived is not None
            if revived is not None:
                country = revived.country  # the row that now counts is the target's own
        if became_counted:
            gained += 1
            db.session.add(
                CountDelta(campaign_id=target.id, country=country, delta=1, day=day_of(s.confirmed_at))
            )
        s.withdrawn_at = now
        s.moved_to_id = target.id
        if counted:
            db.session.add(
                CountDelta(campaign_id=source.id, country=s.country, delta=-1, day=day_of(s.confirmed_at))
            )
    return gained


def dismiss_reports(comment_id: int, moderator_id: int) -> None:
    """A moderator keeps a reported comment: its reports are cleared. Commits."""
    require_moderator(moderator_id, _("Only moderators can dismiss reports."))
    db.session.execute(delete(CommentReport).where(CommentReport.comment_id == comment_id))
    db.session.commit()
