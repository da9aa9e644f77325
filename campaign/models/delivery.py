"""Deliveries of signed campaigns to brands, the brands' public answers and what supporters
think of them."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.brand import Brand
    from campaign.models.campaign import Campaign


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    OPENED = "opened"
    ANSWERED = "answered"


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is stored as is and translated when shown."""
    return message


#: The reasons a round can fail, stored in English (the record) and shown translated.
NO_CONTACT_REASON = N_(
    "%(brand)s has no contact address on Groundswell yet; ask a moderator to add one, then try again."
)
UNREACHABLE_REASON = N_("The brand's mail server could not be reached or refused the email.")
OUR_ERROR_REASON = N_("An error on our side stopped the delivery; we have been told.")


class Delivery(Base):
    """One round of a campaign's supports, packaged, sealed and sent to one brand."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("campaign_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), default=DeliveryState.QUEUED)
    # The round holds the counted supports with after_support_id < id <= up_to_support_id.
    after_support_id: Mapped[int] = mapped_column(Integer, default=0)
    up_to_support_id: Mapped[int] = mapped_column(Integer)
    support_count: Mapped[int | None] = mapped_column(Integer)
    total_count: Mapped[int | None] = mapped_column(Integer)
    csv_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    seal: Mapped[str | None] = mapped_column(String(64))
    # Rounds delivered since signing began: the Merkle root over the round's leaves and the
    # signed statement (its exact text, the Ed25519 signature, the key's fingerprint).
    merkle_root: Mapped[str | None] = mapped_column(String(64))
    statement: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(String(120))
    key_id: Mapped[str | None] = mapped_column(String(16))
    automatic: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship("Campaign", back_populates="deliveries")
    brand: Mapped[Brand] = relationship("Brand")

    @property
    def failure_reason_shown(self) -> str | None:
        """The stored reason in the reader's language (a reason we don't know: as stored)."""
        reason = self.failure_reason
        if reason in (UNREACHABLE_REASON, OUR_ERROR_REASON):
            return gettext(reason)
        if self.brand is not None and reason == NO_CONTACT_REASON % {"brand": self.brand.name}:
            return gettext(NO_CONTACT_REASON, brand=self.brand.name)
        return reason


class Stance(enum.StrEnum):
    COMMITTED = "committed"
    PARTLY = "partly"
    DECLINED = "declined"
    DISCUSSING = "discussing"


STANCE_LABELS = {
    Stance.COMMITTED: _l("Committed"),
    Stance.PARTLY: _l("Partly committed"),
    Stance.DECLINED: _l("Declined"),
    Stance.DISCUSSING: _l("Under discussion"),
}


class Response(Base):
    """A brand's public answer to a delivered campaign or a proposal."""

    __tablename__ = "responses"
    # The same answer twice (a double click) is one answer.
    __table_args__ = (UniqueConstraint("campaign_id", "brand_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who answered, as they signed it (a member's name, or the contact who used the link).
    author_name: Mapped[str] = mapped_column(String(120))
    stance: Mapped[Stance] = mapped_column(_enum(Stance))
    body: Mapped[str] = mapped_column(Text)
    commitment: Mapped[str | None] = mapped_column(Text)
    commitment_due: Mapped[date | None] = mapped_column(Date)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship("Campaign", back_populates="responses")
    brand: Mapped[Brand] = relationship("Brand")
    verdicts: Mapped[list[Verdict]] = relationship(
        "Verdict", back_populates="response", cascade="all, delete-orphan"
    )

    @property
    def stance_label(self) -> str:
        return STANCE_LABELS[self.stance]

    def tally(self) -> dict[str, int]:
        counts = {v.value: 0 for v in VerdictChoice}
        for verdict in self.verdicts:
            counts[verdict.choice.value] += 1
        return counts


class VerdictChoice(enum.StrEnum):
    MEETS = "meets"
    PARTLY = "partly"
    DOES_NOT = "does_not"


class Verdict(Base):
    """A supporter's view of whether an answer meets the demand; one per supporter."""

    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("response_id", "support_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    support_id: Mapped[int] = mapped_column(ForeignKey("supports.id", ondelete="CASCADE"))
    choice: Mapped[VerdictChoice] = mapped_column(_enum(VerdictChoice))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped[Response] = relationship("Response", back_populates="verdicts")
