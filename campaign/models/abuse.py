"""Signing fraud: allow and block lists, condition-based invalidations, the hourly report."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Suspect(enum.StrEnum):
    """Why a support is held: stored and thanked like any other, but never counted."""

    RATE_LIMIT = "rate_limit"  # over the per-IP limit on its campaign
    BLOCKED_IP = "blocked_ip"
    BLOCKED_DOMAIN = "blocked_domain"
    BLOCKED_EMAIL = "blocked_email"
    INVALIDATED = "invalidated"  # by a moderator's invalidation


SUSPECT_LABELS = {
    Suspect.RATE_LIMIT: _l("over the per-IP limit"),
    Suspect.BLOCKED_IP: _l("blocked IP"),
    Suspect.BLOCKED_DOMAIN: _l("blocked email domain"),
    Suspect.BLOCKED_EMAIL: _l("blocked email"),
    Suspect.INVALIDATED: _l("invalidated by a moderator"),
}


class RuleKind(enum.StrEnum):
    IP = "ip"  # an address or a CIDR range
    DOMAIN = "domain"  # an email domain and its subdomains
    EMAIL = "email"  # one canonical email


class RuleAction(enum.StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


class AbuseRule(Base):
    """One entry of the allow or block lists. The most specific rule that matches a support
    decides (an email over a domain over an IP range; the longest domain, the narrowest
    range); with none, the per-IP limit decides."""

    __tablename__ = "abuse_rules"
    __table_args__ = (
        UniqueConstraint("kind", "value"),
        CheckConstraint("kind != 'ip' OR (ip_low IS NOT NULL AND ip_high IS NOT NULL)",
                        name="ip_rule_has_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RuleKind] = mapped_column(_enum(RuleKind))
    action: Mapped[RuleAction] = mapped_column(_enum(RuleAction))
    # Normalised: "203.0.113.0/24", "example.org", or a canonical email.
    value: Mapped[str] = mapped_column(String(254))
    # An IP rule's range as fixed-width hex keys (see campaign.services.abuse.ip_key), so a
    # range matches by string comparison on every backend.
    ip_low: Mapped[str | None] = mapped_column(String(32))
    ip_high: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by = relationship("User")

    @property
    def specificity(self) -> int:
        """Larger is narrower: prefix length for IPs, label count for domains."""
        if self.kind == RuleKind.IP:
            return int(self.value.rsplit("/", 1)[1]) if "/" in self.value else 128
        return self.value.count(".") + 1


class Invalidation(Base):
    """A moderator's decision that supports matching some conditions never count.

    Created with a preview of how many supports match; a job marks them and recounts the
    campaigns they were on. At least one condition (IP, domain or time) is required."""

    __tablename__ = "invalidations"
    __table_args__ = (
        CheckConstraint("ip IS NOT NULL OR domain IS NOT NULL OR since IS NOT NULL "
                        "OR until IS NOT NULL", name="has_a_condition"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: every campaign.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    ip: Mapped[str | None] = mapped_column(String(49))
    ip_low: Mapped[str | None] = mapped_column(String(32))
    ip_high: Mapped[str | None] = mapped_column(String(32))
    domain: Mapped[str | None] = mapped_column(String(254))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200))
    # How many supports matched when the moderator confirmed (the preview they saw).
    matched: Mapped[int] = mapped_column(Integer, default=0)
    # How many this invalidation marked (set by the job).
    invalidated: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    campaign = relationship("Campaign")
    created_by = relationship("User")


class SigningReport(Base):
    """One line of the hourly report: an IP or email domain that signed one campaign
    heavily in one hour (written by the hourly job; rewritten whole if it runs again)."""

    __tablename__ = "signing_reports"
    __table_args__ = (UniqueConstraint("hour", "campaign_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the hour's start
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[RuleKind] = mapped_column(_enum(RuleKind))
    value: Mapped[str] = mapped_column(String(254))
    supports: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)  # of those, how many are suspect

    campaign = relationship("Campaign")
