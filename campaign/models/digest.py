"""Notices held for a member's digest."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.campaign import Campaign
    from campaign.models.support import Support
    from campaign.models.user import User


class DigestItem(Base):
    """A notice a member chose to get in a digest rather than at once.

    ``key`` is the one the immediate email would have been sent under (unique: a fan-out
    batch that runs twice holds each notice once). ``digest_key`` is set, in the transaction
    that claims the digest's mail receipt, to the digest that carried it; until then the item
    is pending.
    """

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_user_id_digest_key", "user_id", "digest_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # The support it is about (its unsubscribe and verdict links); None for an organiser's.
    support_id: Mapped[int | None] = mapped_column(ForeignKey("supports.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    digest_key: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship("User")
    campaign: Mapped[Campaign] = relationship("Campaign")
    support: Mapped[Support | None] = relationship("Support")
