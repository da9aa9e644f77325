"""The one campaign table and its four kinds (single-table inheritance on ``kind``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.i18n import current_language
from campaign.markdown import render_markdown
from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.brand import Brand
    from campaign.models.user import User


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class CampaignKind(enum.StrEnum):
    PETITION = "petition"
    BOYCOTT = "boycott"
    BUYCOTT = "buycott"
    PROPOSAL = "proposal"


class CampaignState(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    OPEN = "open"
    REJECTED = "rejected"
    HIDDEN = "hidden"
    WON = "won"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


#: States a visitor may see.
PUBLIC_STATES = (CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED)
#: States in which the organiser may still change the text.
EDITABLE_STATES = (CampaignState.DRAFT, CampaignState.REJECTED)


#: Languages a campaign may be written in (the search stems its words by it).
CAMPAIGN_LANGUAGES = ("en", "es")


class Topic(Base):
    """A tag moderators keep (climate, labour…) that organisers choose for their campaigns."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    # The name in Spanish; topics are few and written by moderators, not by translators.
    name_es: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def label(self, language: str | None = None) -> str:
        """The name in ``language`` (the current request's by default)."""
        return self.name_in(language or current_language(), self.name, self.name_es)

    @staticmethod
    def name_in(language: str, name: str, name_es: str) -> str:
        """Of a topic's names, the one to show in ``language``."""
        return name_es if language == "es" and name_es else name

    def __repr__(self) -> str:
        return f"<Topic {self.slug}>"


campaign_topics = Table(
    "campaign_topics",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class KindWords:
    """A campaign's words and standing, read through its kind's definition: shared by the
    model and :class:`CampaignTerms` (pages and emails say ``campaign.noun``). Reads
    ``definition``, ``state`` and ``closes_at``."""

    noun = property(lambda self: self.definition.noun)
    support_verb = property(lambda self: self.definition.support_verb)
    support_noun = property(lambda self: self.definition.support_noun)
    supporters_noun = property(lambda self: self.definition.supporters_noun)
    blueprint = property(lambda self: self.definition.name)

    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC_STATES

    def is_past_closing(self, now: datetime | None = None) -> bool:
        return self.closes_at is not None and self.closes_at <= (now or utcnow())


class Campaign(KindWords, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("goal > 0", name="goal_positive"),
        # Each browse sort reads its index in order and stops at the page's end.
        Index("ix_campaigns_momentum_id", "momentum", "id"),
        Index("ix_campaigns_confirmed_count_id", "confirmed_count", "id"),
        Index("ix_campaigns_closes_at_id", "closes_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CampaignKind] = mapped_column(_enum(CampaignKind), index=True)
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    title: Mapped[str] = mapped_column(String(150))
    summary: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target_brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), index=True)
    goal: Mapped[int] = mapped_column(Integer)
    state: Mapped[CampaignState] = mapped_column(
        _enum(CampaignState), default=CampaignState.DRAFT, index=True
    )
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Folded in from confirmed supports by the counting job; never written per support.
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of the monthly spend pledged by confirmed supports, folded like the count.
    monthly_spend_total: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The brand is asked to answer by then; past it, unanswered, the organiser may escalate.
    answer_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Unique: one escalation per campaign, even if the organiser clicks twice.
    escalated_from_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    # A thank-you buycott names the boycott that won; one per boycott.
    thanks_for_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    # What changed, told by the organiser when declaring victory (Markdown).
    victory_story: Mapped[str | None] = mapped_column(Text)
    # Supporters' personal details were anonymised this long after the campaign ended.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Supporters get at most one update email a day per campaign.
    last_update_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The picture: the content-hash key of its stored renditions (campaign.media), and the
    # words a screen reader says for it (required with a picture).
    picture: Mapped[str | None] = mapped_column(String(64))
    picture_alt: Mapped[str | None] = mapped_column(String(300))
    # Why a moderator removed the picture (shown to the organiser until a new one is added).
    picture_removed_reason: Mapped[str | None] = mapped_column(Text)
    # What the campaign is written in: search stems its words with this language's rules.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Confirmed supports of the last seven days, what "trending" sorts by: the counting job
    # adds each fold's change, and the clock re-bases it from the supports every few minutes.
    momentum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organiser: Mapped[User] = relationship("User")
    escalated_from: Mapped[Campaign | None] = relationship(
        "Campaign", remote_side=[id], foreign_keys=[escalated_from_id], back_populates="escalations"
    )
    escalations: Mapped[list[Campaign]] = relationship(
        "Campaign", foreign_keys=[escalated_from_id], back_populates="escalated_from"
    )
    thanks_for: Mapped[Campaign | None] = relationship(
        "Campaign", remote_side=[id], foreign_keys=[thanks_for_id]
    )
    target_brand: Mapped[Brand | None] = relationship("Brand", foreign_keys=[target_brand_id])
    updates: Mapped[list[Update]] = relationship(
        "Update", back_populates="campaign", order_by="Update.created_at.desc()"
    )
    milestones: Mapped[list[Milestone]] = relationship(
        "Milestone", back_populates="campaign", order_by="Milestone.threshold"
    )
    # Delivery and Response are named, not imported: models/delivery.py imports this module.
    deliveries: Mapped[list[Delivery]] = relationship(  # noqa: F821
        "Delivery", back_populates="campaign", order_by="Delivery.round"
    )
    responses: Mapped[list[Response]] = relationship(  # noqa: F821
        "Response", back_populates="campaign", order_by="Response.created_at.desc()"
    )
    topics: Mapped[list[Topic]] = relationship("Topic", secondary=campaign_topics, order_by="Topic.name")
    # Co-authors and status changes belong to proposals, and are empty for other kinds.
    coauthors: Mapped[list[CoAuthor]] = relationship("CoAuthor", back_populates="campaign")
    status_changes: Mapped[list[StatusChange]] = relationship(
        "StatusChange", foreign_keys="StatusChange.campaign_id", back_populates="campaign"
    )
    # A campaign's supports can be millions: they are queried (``Support.campaign_id``),
    # never loaded as a collection.

    __mapper_args__ = {"polymorphic_on": kind}

    #: What this kind is and does: its words and rules (a :class:`campaign.kinds.base.Kind`).
    #: :mod:`campaign.kinds` sets it on each subclass; the models never import the kinds.
    definition: ClassVar[Any]

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    @property
    def count_noun(self) -> str:
        """ "signature" or "signatures", as the count asks."""
        return self.support_noun if self.confirmed_count == 1 else self.supporters_noun

    def count_phrase(self, n: int | None = None, *, strong: bool = False) -> str:
        """ "1 signature", "2,500 signatures": ``n`` (default: the count) in this kind's words."""
        return self.definition.count_phrase(self.confirmed_count if n is None else n, strong=strong)

    @property
    def spend_phrase(self) -> str | None:
        """What the supporters spend a month, in this kind's words (None if none said)."""
        return self.definition.spend_phrase(self)

    @property
    def progress_percent(self) -> int:
        return min(100, int(self.confirmed_count * 100 / self.goal)) if self.goal else 0

    @property
    def goal_reached(self) -> bool:
        return self.confirmed_count >= self.goal

    @property
    def next_goal(self) -> int:
        """The goal the page shows: the organiser's until reached, then the next round number
        above the count (1, 2, 5, 10, 20, 50...), as the largest petition sites do."""
        if self.confirmed_count < self.goal:
            return self.goal
        step = 1
        while True:
            for n in (step, 2 * step, 5 * step):
                if n > self.confirmed_count and n > self.goal:
                    return n
            step *= 10

    @property
    def shown_progress(self) -> int:
        """The bar's value against :attr:`next_goal`."""
        return min(self.confirmed_count, self.next_goal)

    def brands(self) -> list:
        """The brands this campaign addresses."""
        return [self.target_brand] if self.target_brand else []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug} {self.state}>"


class Petition(Campaign):
    __mapper_args__ = {"polymorphic_identity": CampaignKind.PETITION}
    demand: Mapped[str | None] = mapped_column(Text, use_existing_column=True)


class Boycott(Campaign):
    __mapper_args__ = {"polymorphic_identity": CampaignKind.BOYCOTT}
    # One demand per line; the brand meets them all to end the boycott.
    demands: Mapped[str | None] = mapped_column(Text, use_existing_column=True)
    # True: the pledge covers every brand the target owns, through the ownership tree.
    group_scope: Mapped[bool | None] = mapped_column(use_existing_column=True)

    def covered_brands(self) -> list:
        """The brands a pledger avoids: the target, and with group scope all it owns."""
        if self.target_brand is None:
            return []
        return [self.target_brand, *(self.target_brand.descendants() if self.group_scope else [])]

    @property
    def demand_list(self) -> list[str]:
        return [line.strip() for line in (self.demands or "").splitlines() if line.strip()]


class Buycott(Campaign):
    __mapper_args__ = {"polymorphic_identity": CampaignKind.BUYCOTT}
    endorsements: Mapped[list[Endorsement]] = relationship(
        "Endorsement",
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="Endorsement.id",
    )

    def brands(self) -> list:
        return [e.brand for e in self.endorsements]


class ProposalStatus(enum.StrEnum):
    UNDER_REVIEW = "under_review"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DECLINED = "declined"
    DUPLICATE = "duplicate"


PROPOSAL_STATUS_LABELS = {
    ProposalStatus.UNDER_REVIEW: _l("Under review"),
    ProposalStatus.PLANNED: _l("Planned"),
    ProposalStatus.IN_PROGRESS: _l("In progress"),
    ProposalStatus.DONE: _l("Done"),
    ProposalStatus.DECLINED: _l("Declined"),
    ProposalStatus.DUPLICATE: _l("Duplicate"),
}


class Proposal(Campaign):
    __mapper_args__ = {"polymorphic_identity": CampaignKind.PROPOSAL}
    proposal_status: Mapped[ProposalStatus | None] = mapped_column(
        _enum(ProposalStatus), use_existing_column=True
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), use_existing_column=True)

    @property
    def status_label(self) -> str | None:
        return PROPOSAL_STATUS_LABELS[self.proposal_status] if self.proposal_status else None


CAMPAIGN_CLASSES: dict[CampaignKind, type[Campaign]] = {
    CampaignKind.PETITION: Petition,
    CampaignKind.BOYCOTT: Boycott,
    CampaignKind.BUYCOTT: Buycott,
    CampaignKind.PROPOSAL: Proposal,
}


@dataclass(frozen=True)
class CampaignTerms(KindWords):
    """What taking a support reads of a campaign, without loading it: its id, kind, state,
    closing and title (the consent text names it). Kept for a second by each web process
    (:func:`campaign.services.supports.campaign_terms`); the signing statement itself checks
    in the database that the campaign is open."""

    id: int
    kind: CampaignKind
    state: CampaignState
    closes_at: datetime | None
    title: str

    @property
    def definition(self) -> Any:
        return CAMPAIGN_CLASSES[self.kind].definition


class Endorsement(Base):
    """A brand a buycott asks people to buy from, and why.

    The evidence has a date; past a year the endorsement needs review (shown as such) until
    the organiser renews it with newer evidence.
    """

    __tablename__ = "endorsements"
    __table_args__ = (UniqueConstraint("campaign_id", "brand_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    evidence_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Buycott] = relationship("Buycott", back_populates="endorsements")
    brand: Mapped[Brand] = relationship("Brand")

    @property
    def needs_review(self) -> bool:
        evidence = self.evidence_on or self.created_at.date()
        return (utcnow().date() - evidence).days > 365


class Update(Base):
    """News an organiser posts on a campaign."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    emailed: Mapped[bool] = mapped_column(default=False)

    campaign: Mapped[Campaign] = relationship("Campaign", back_populates="updates")
    author: Mapped[User] = relationship("User")


class Milestone(Base):
    """One row per campaign and threshold reached: the guard that notifies exactly once."""

    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("campaign_id", "threshold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    threshold: Mapped[int] = mapped_column(Integer)
    is_goal: Mapped[bool] = mapped_column(default=False)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once its notifications are enqueued; the sweeper re-enqueues rows left unset.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship("Campaign", back_populates="milestones")


class CoAuthor(Base):
    """A member invited to co-author a proposal; a co-author once they accept."""

    __tablename__ = "coauthors"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship("Campaign", back_populates="coauthors")
    user: Mapped[User] = relationship("User", foreign_keys=[user_id])


class StatusChange(Base):
    """A brand's status for a proposal, with its official answer; the history is kept."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    status: Mapped[ProposalStatus] = mapped_column(_enum(ProposalStatus))
    answer: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(120))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship(
        "Campaign", foreign_keys=[campaign_id], back_populates="status_changes"
    )
    duplicate_of: Mapped[Campaign | None] = relationship("Campaign", foreign_keys=[duplicate_of_id])

    @property
    def label(self) -> str:
        return PROPOSAL_STATUS_LABELS[self.status]


class Comment(Base):
    """A comment on a proposal (Markdown), with one level of replies."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    # The body's sanitised HTML, rendered once when written (pages never render Markdown).
    body_html: Mapped[str | None] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship("User")
    replies: Mapped[list[Comment]] = relationship("Comment", order_by="Comment.created_at")

    @property
    def html(self):
        """The sanitised HTML of the body (rendered when written; older rows on demand)."""
        if self.body_html is not None:
            return Markup(self.body_html)
        return render_markdown(self.body)

    reports: Mapped[list[CommentReport]] = relationship("CommentReport", cascade="all, delete-orphan")


class CommentReport(Base):
    """A member reports a comment for moderation; once per member and comment."""

    __tablename__ = "comment_reports"
    __table_args__ = (UniqueConstraint("comment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
