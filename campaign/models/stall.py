"""Stalls: an organiser's table at a market or a march, where many people sign on one device."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.campaign import Campaign
    from campaign.models.user import User


def new_stall_token() -> str:
    return secrets.token_urlsafe(18)


class Stall(Base):
    """A few hours at a place, with a named volunteer, and a link of its own (and QR code).

    Supports made through the link skip the per-IP limit (everyone at a stall shares one
    network) but keep the block rules and email confirmation, are capped per stall
    (``RATELIMIT_STALL``), and carry ``stall_id`` so a moderator can review them together.
    A stall takes supports from ``opens_at`` until ``closes_at`` or until its organiser
    closes it (``closed_at``), whichever comes first.
    """

    __tablename__ = "stalls"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="closes_after_opening"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    # The secret part of the stall's link: whoever has it signs through the stall.
    token: Mapped[str] = mapped_column(String(32), unique=True, default=new_stall_token)
    place: Mapped[str] = mapped_column(String(120))
    volunteer: Mapped[str] = mapped_column(String(100))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship("Campaign")
    created_by: Mapped[User | None] = relationship("User")

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.closed_at is None and self.opens_at <= now < self.closes_at

    @property
    def ends_at(self) -> datetime:
        """When it stopped or stops taking supports."""
        return min(self.closed_at, self.closes_at) if self.closed_at else self.closes_at
