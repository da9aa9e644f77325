"""Signing fraud: allow and block lists, condition-based invalidations, the hourly report."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.campaign import Campaign
    from campaign.models.stall import Stall
    from campaign.models.user import User


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Suspect(enum.StrEnum):
    """Why a support is held: stored and thanked like any other, but never counted."""

    RATE_LIMIT = "rate_limit"  # over the per-IP limit on its campaign
    BLOCKED_IP = "blocked_ip"
    BLOCKED_DOMAIN = "blocked_domain"
    BLOCKED_EMAIL = "blocked_email"
    INVALIDATED = "invalidated"  # by a moderator's invalidation
    STALL_LIMIT = "stall_limit"  # over the per-stall limit (signed through a stall)


SUSPECT_LABELS = {
    Suspect.RATE_LIMIT: _l("over the per-IP limit"),
    Suspect.BLOCKED_IP: _l("blocked IP"),
    Suspect.BLOCKED_DOMAIN: _l("blocked email domain"),
    Suspect.BLOCKED_EMAIL: _l("blocked email"),
    Suspect.INVALIDATED: _l("invalidated by a moderator"),
    Suspect.STALL_LIMIT: _l("over the per-stall limit"),
}

#: Held until a moderator looks: what "held for review" counts (an invalidation is a
#: moderator's decision already).
HELD_FOR_REVIEW = tuple(s.value for s in Suspect if s != Suspect.INVALIDATED)


class DecisionAction(enum.StrEnum):
    """What a moderator's decision over supports does."""

    INVALIDATE = "invalidate"  # they stop counting
    RELEASE = "release"  # held supports count (once confirmed by email)


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
        CheckConstraint(
            "kind != 'ip' OR (ip_low IS NOT NULL AND ip_high IS NOT NULL)", name="ip_rule_has_range"
        ),
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

    created_by: Mapped[User | None] = relationship("User")

    @property
    def specificity(self) -> int:
        """Larger is narrower: prefix length for IPs, label count for domains."""
        if self.kind == RuleKind.IP:
            return int(self.value.rsplit("/", 1)[1]) if "/" in self.value else 128
        return self.value.count(".") + 1


class Invalidation(Base):
    """A moderator's decision over the supports matching some conditions: they never count
    (``action`` invalidate), or, held, they are released and count (``action`` release).

    Created with a preview of how many supports match; a job marks them and recounts the
    campaigns they were on. At least one condition (IP, domain, time, stall, the reason
    they are held, or one support) is required. The rows are the audit log of these
    decisions: who, when, on what conditions, why, how many."""

    __tablename__ = "invalidations"
    __table_args__ = (
        CheckConstraint(
            "ip IS NOT NULL OR domain IS NOT NULL OR since IS NOT NULL "
            "OR until IS NOT NULL OR stall_id IS NOT NULL OR held_reason IS NOT NULL "
            "OR support_id IS NOT NULL",
            name="has_a_condition",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[DecisionAction] = mapped_column(_enum(DecisionAction), default=DecisionAction.INVALIDATE)
    # None: every campaign.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    ip: Mapped[str | None] = mapped_column(String(49))
    ip_low: Mapped[str | None] = mapped_column(String(32))
    ip_high: Mapped[str | None] = mapped_column(String(32))
    domain: Mapped[str | None] = mapped_column(String(254))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stall_id: Mapped[int | None] = mapped_column(ForeignKey("stalls.id", ondelete="CASCADE"))
    # Releases only: the supports held for this reason (a Suspect value).
    held_reason: Mapped[str | None] = mapped_column(String(20))
    # One support, by id (no foreign key: the audit row outlives what it names).
    support_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    # How many supports matched when the moderator confirmed (the preview they saw).
    matched: Mapped[int] = mapped_column(Integer, default=0)
    # How many this decision marked, invalidated or released (set by the job).
    invalidated: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    campaign: Mapped[Campaign | None] = relationship("Campaign")
    created_by: Mapped[User | None] = relationship("User")
    stall: Mapped[Stall | None] = relationship("Stall")

    @property
    def is_release(self) -> bool:
        return self.action == DecisionAction.RELEASE


class SigningReport(Base):
    """One line of the hourly report: an IP or email domain that signed one campaign
    heavily in one hour, or (``campaign_id`` None) an IP, IP range or email domain that
    signed many campaigns (``campaigns``) in one hour, thinly. Written by the hourly job;
    rewritten whole if it runs again."""

    __tablename__ = "signing_reports"
    __table_args__ = (UniqueConstraint("hour", "campaign_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the hour's start
    # None: a line about many campaigns.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[RuleKind] = mapped_column(_enum(RuleKind))
    value: Mapped[str] = mapped_column(String(254))  # an address, a range or a domain
    supports: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)  # of those, how many are suspect
    # Lines about many campaigns: on how many it signed.
    campaigns: Mapped[int | None] = mapped_column(Integer)

    campaign: Mapped[Campaign | None] = relationship("Campaign")
