"""Brands, their ownership tree, certifications and verified members."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.user import User


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"), index=True)
    # Email domains verified as the brand's own, comma-separated: a claim is confirmed by a
    # link sent to an address at one of them.
    email_domains: Mapped[str] = mapped_column(String(300), default="")
    # Suggested by a member and not yet approved by a moderator while this is empty.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suggested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The logo: the content-hash key of its stored rendition (campaign.media) and its text.
    logo: Mapped[str | None] = mapped_column(String(64))
    logo_alt: Mapped[str | None] = mapped_column(String(300))

    parent: Mapped[Brand | None] = relationship(remote_side=[id], back_populates="subsidiaries")
    subsidiaries: Mapped[list[Brand]] = relationship(back_populates="parent", order_by="Brand.name")
    certifications: Mapped[list[Certification]] = relationship(
        back_populates="brand", order_by="Certification.name", cascade="all, delete-orphan"
    )
    members: Mapped[list[BrandMember]] = relationship(back_populates="brand")

    @property
    def domains(self) -> list[str]:
        return [d.strip().lower() for d in self.email_domains.split(",") if d.strip()]

    def verified_members(self) -> list[BrandMember]:
        return [m for m in self.members if m.verified_at is not None]

    def descendants(self) -> list[Brand]:
        """Every brand owned, directly or not, nearest first."""
        found, queue, seen = [], list(self.subsidiaries), {self.id}
        while queue:
            brand = queue.pop(0)
            if brand.id in seen:
                continue
            seen.add(brand.id)
            found.append(brand)
            queue.extend(brand.subsidiaries)
        return found

    def ancestors(self) -> list[Brand]:
        """Parents from the nearest up to the top of the ownership tree."""
        chain, seen, node = [], {self.id}, self.parent
        while node is not None and node.id not in seen:
            chain.append(node)
            seen.add(node.id)
            node = node.parent
        return chain

    def __repr__(self) -> str:
        return f"<Brand {self.slug}>"


class Certification(Base):
    __tablename__ = "certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(120))
    evidence_url: Mapped[str | None] = mapped_column(String(300))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_on: Mapped[date | None] = mapped_column(Date)

    brand: Mapped[Brand] = relationship(back_populates="certifications")


class BrandMember(Base):
    """A person who speaks for a brand; a relation, never a role."""

    __tablename__ = "brand_members"
    __table_args__ = (UniqueConstraint("brand_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    # The work address a claim was verified through (never shown to anyone else).
    claim_email: Mapped[str | None] = mapped_column(String(254))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    brand: Mapped[Brand] = relationship(back_populates="members")
    user: Mapped[User] = relationship("User", back_populates="brand_memberships", foreign_keys=[user_id])
