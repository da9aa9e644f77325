"""Every act of support — signature, pledge, endorsement — in one table."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from campaign.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # names for the relationships' types; the mapper resolves them by name
    from campaign.models.brand import Brand
    from campaign.models.campaign import Campaign
    from campaign.models.user import User

# Providers that deliver mail for "j.o.e" to "joe": dots in the local part are ignored.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


#: An address of ASCII letters, digits and ``._+-`` around one ``@``: email-validator gives
#: such an address back as it is, or rejects it and :func:`validated_parts` splits it as it is,
#: so the validator is skipped (1 µs instead of 19, on every signature).
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+")


def canonical_email(address: str) -> str:
    """The form of ``address`` under which one person supports a campaign once.

    Look-alike characters are folded first (NFKC: fullwidth letters, the ideographic full
    stop…) and the domain is IDNA-encoded, as email-validator normalises an address; then
    case and surrounding spaces are ignored, as are ``+tags`` and, for providers that ignore
    them, dots in the local part.
    """
    address = unicodedata.normalize("NFKC", address).strip()
    if "@" not in address:  # not an address (a moderator's rule may hold any text)
        return address.lower()
    if PLAIN_ADDRESS.fullmatch(address):
        local, _, domain = address.partition("@")
    else:
        local, domain = validated_parts(address)
    local, domain = local.lower(), domain.lower().rstrip(".")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        domain = _DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def validated_parts(address: str) -> tuple[str, str]:
    """``address``'s local part and IDNA-encoded domain, as email-validator normalises them."""
    try:
        valid = validate_email(address, check_deliverability=False, test_environment=True)
        return valid.local_part, valid.ascii_domain
    except EmailNotValidError:
        # Not an address a form would accept (an old row, a moderator's rule): the same
        # folding, as far as it goes.
        local, _, domain = address.rpartition("@")
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass
        return local, domain


class Support(Base):
    __tablename__ = "supports"
    __table_args__ = (
        UniqueConstraint("campaign_id", "email_canonical"),
        # The newest supporters of a campaign, and supports per day, without a scan.
        Index("ix_supports_campaign_id_confirmed_at", "campaign_id", "confirmed_at"),
        # Trending: supports confirmed in the last days, across campaigns.
        Index("ix_supports_confirmed_at", "confirmed_at"),
        CheckConstraint("monthly_spend IS NULL OR monthly_spend >= 0", name="spend_not_negative"),
        CheckConstraint(
            "condition_threshold IS NULL OR condition_threshold BETWEEN 2 AND 1000000",
            name="condition_in_range",
        ),
        # A suspect support never counts, and counting reads confirmed_at: so it is never set.
        CheckConstraint("suspect IS NULL OR confirmed_at IS NULL", name="suspect_never_counts"),
        # The hourly report and time-window invalidations read supports by creation time.
        Index("ix_supports_created_at", "created_at"),
        # One featured reason per campaign, chosen by the organiser.
        Index(
            "uq_supports_featured_reason",
            "campaign_id",
            unique=True,
            sqlite_where=text("reason_featured_at IS NOT NULL"),
            postgresql_where=text("reason_featured_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    email_canonical: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    is_public: Mapped[bool] = mapped_column(default=True)
    country: Mapped[str] = mapped_column(String(2))
    postcode: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    monthly_spend: Mapped[int | None] = mapped_column(Integer)
    consents_to_updates: Mapped[bool] = mapped_column(default=False)
    # The words the supporter agreed to when signing (kept as evidence of consent).
    consent_text: Mapped[str | None] = mapped_column(Text)
    # Set when personal details were erased or anonymised; the support still counts.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A conditional boycott pledge: "I'll stop buying once N others pledge too".
    condition_threshold: Mapped[int | None] = mapped_column(Integer)
    # When the campaign's count reached that threshold (the pledger is told once, then).
    condition_met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a duplicate proposal's endorsement was moved to the one it duplicates.
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    # How many confirmation emails this support has been sent (capped, so a form can't spam);
    # the one owed is a row of ``confirmations_owed`` (campaign.models.outbox.ConfirmationOwed).
    confirmation_sends: Mapped[int] = mapped_column(SmallInteger, default=0)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    # The address as a fixed-width hex key (campaign.services.abuse.ip_key): CIDR ranges
    # match it by string comparison on every backend.
    ip_key: Mapped[str | None] = mapped_column(String(32))
    # Why the support is held (a campaign.models.abuse.Suspect value), or None. A suspect
    # support is stored and thanked like any other but never counted: its email
    # confirmation goes to ``suspect_confirmed_at``, never to ``confirmed_at``.
    suspect: Mapped[str | None] = mapped_column(String(20))
    suspect_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The moderator's decision that last changed it (an invalidation or a release).
    invalidation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invalidations.id", ondelete="SET NULL"), index=True
    )
    # The stall it was signed at, if any (campaign.models.stall).
    stall_id: Mapped[int | None] = mapped_column(ForeignKey("stalls.id", ondelete="SET NULL"), index=True)
    # Which share brought this supporter ("email", "whatsapp"…), from the link's ?ref=.
    referral: Mapped[str | None] = mapped_column(String(40))
    # The supporter whose share link brought this one (their referral code in ?ref=).
    referred_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("supports.id", ondelete="SET NULL"), index=True
    )
    # The comment shown publicly as a reason for supporting: hidden by a moderator, or
    # featured by the organiser (at most one per campaign).
    reason_hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_featured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language the supporter signed in: their emails are written in it (None: English).
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a support was withdrawn by the system rather than by its supporter (e.g. it was the
    # same address written with look-alike characters as an earlier support).
    withdrawn_reason: Mapped[str | None] = mapped_column(String(200))

    campaign: Mapped[Campaign] = relationship("Campaign", foreign_keys=[campaign_id])
    user: Mapped[User | None] = relationship("User")
    pledged_brands: Mapped[list[Brand]] = relationship(
        "Brand", secondary="pledge_brands", order_by="Brand.name"
    )

    @hybrid_property
    def counts(self) -> bool:
        """Confirmed and not withdrawn: this support is in the count. ``Support.counts`` in a
        query is the same condition in SQL; every count and list of supporters uses it."""
        return self.confirmed_at is not None and self.withdrawn_at is None

    @counts.inplace.expression
    @classmethod
    def _counts_expression(cls) -> ColumnElement[bool]:
        return and_(cls.confirmed_at.is_not(None), cls.withdrawn_at.is_(None))

    @property
    def email_confirmed_at(self) -> datetime | None:
        """When the supporter confirmed, whether or not the support counts."""
        return self.confirmed_at or self.suspect_confirmed_at


#: A reason anyone may read: given, by a supporter who shows their name, who counts, not
#: erased and not hidden by a moderator. The condition of ``services.reasons.public_reasons``
#: and of the reasons' own index below, so that the database sees the one implies the other.
REASON_IS_PUBLIC = and_(
    Support.is_public.is_(True),
    Support.comment.is_not(None),
    Support.counts,
    Support.anonymised_at.is_(None),
    Support.reason_hidden_at.is_(None),
)

# The public reasons of a campaign, newest first, and how many (services.reasons): a campaign
# of a million supports with a few reasons would otherwise have every support read, on every
# render of its page, to find them. SQLite uses a partial index only for a query whose
# conditions are written as its own.
Index(
    "ix_supports_public_reasons",
    Support.campaign_id,
    Support.confirmed_at,
    Support.id,
    postgresql_where=REASON_IS_PUBLIC,
    sqlite_where=REASON_IS_PUBLIC,
)


# A boycott's conditional pledges: counted on its page, and checked by every fold of any
# campaign's count for those its new count switches on. Without it, both read every support
# of the campaign (a fold 67 ms, the page 150 ms, for a campaign of a million supports).
CONDITIONAL = Support.condition_threshold.is_not(None)
Index(
    "ix_supports_conditional",
    Support.campaign_id,
    Support.condition_threshold,
    postgresql_where=CONDITIONAL,
    sqlite_where=CONDITIONAL,
)


class ReasonLike(Base):
    """A member likes a supporter's reason; once per member and reason."""

    __tablename__ = "reason_likes"
    __table_args__ = (UniqueConstraint("support_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    support_id: Mapped[int] = mapped_column(ForeignKey("supports.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReasonReport(Base):
    """Anyone reports a reason to the moderators; once per reporter (a member's id, or a
    visitor's address key) and reason."""

    __tablename__ = "reason_reports"
    __table_args__ = (UniqueConstraint("support_id", "reporter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    support_id: Mapped[int] = mapped_column(ForeignKey("supports.id", ondelete="CASCADE"), index=True)
    reporter: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PledgeBrand(Base):
    """A brand a buycott pledger says they will buy from (one of the endorsed brands)."""

    __tablename__ = "pledge_brands"
    __table_args__ = (PrimaryKeyConstraint("support_id", "brand_id"),)

    support_id: Mapped[int] = mapped_column(ForeignKey("supports.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)


class CountDelta(Base):
    """A change of one to a campaign's count, appended by the transaction that confirms or
    withdraws a support and folded into the cached counts by the counting job.

    Appending a row never contends with other supporters; only the folding job writes the
    campaign's count, so no single hot row is updated per support.
    """

    __tablename__ = "count_deltas"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    country: Mapped[str] = mapped_column(String(2))
    delta: Mapped[int] = mapped_column(SmallInteger)
    # The day (UTC) the support was confirmed, which its count per day belongs to: today for
    # a confirmation, that day for a withdrawal. See :func:`day_of`.
    day: Mapped[date] = mapped_column(Date)
    # The support's pledged monthly spend, signed like ``delta`` (boycotts and buycotts).
    spend: Mapped[int] = mapped_column(Integer, default=0)


def day_of(moment: datetime) -> date:
    """The UTC day of an instant: the day a confirmed support is counted in (its
    ``confirmed_at``'s, in :class:`DailyCount` and each :class:`CountDelta`)."""
    return moment.astimezone(UTC).date()


class DailyCount(Base):
    """Counted supports of a campaign confirmed on one day (UTC; cached, folded from the
    count deltas as the country counts are; adds up to the total): the campaign page's
    chart reads a month of them, not every support of the month."""

    __tablename__ = "daily_counts"
    __table_args__ = (PrimaryKeyConstraint("campaign_id", "day"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CountryCount(Base):
    """Confirmed supports of a campaign from one country (cached; adds up to the total)."""

    __tablename__ = "country_counts"
    __table_args__ = (PrimaryKeyConstraint("campaign_id", "country"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    country: Mapped[str] = mapped_column(String(2))
    count: Mapped[int] = mapped_column(Integer, default=0)
