"""People with an account."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from campaign.models.base import Base, UTCDateTime, utcnow


class EmailFrequency(enum.StrEnum):
    """How often a member is emailed notices (updates, milestones, answers, victories…)."""

    IMMEDIATELY = "immediately"
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


class Role(enum.StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=Role.MEMBER,
    )
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Flask-Login stores this, not the id, in the session: changing it signs out every device.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    # Notices for a member wait for their digest unless they chose to get them at once.
    email_frequency: Mapped[EmailFrequency] = mapped_column(
        Enum(EmailFrequency, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=EmailFrequency.DAILY,
        server_default=EmailFrequency.DAILY.value,
    )
    # The language the member reads (signed up in, or last chose with the switcher): their
    # emails are written in it. None: the default, English.
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The campaigns a member started and their supports are queried, never loaded as
    # collections (``Campaign.organiser_id``, ``Support.user_id``).
    # BrandMember (models/brand.py) is resolved by the mapper: brand.py imports this module.
    # BrandMember is named, not imported: models/brand.py imports this module.
    brand_memberships: Mapped[list[BrandMember]] = relationship(  # noqa: F821
        "BrandMember", back_populates="user", foreign_keys="BrandMember.user_id"
    )

    def speaks_for(self, brand_id: int) -> bool:
        """A verified member of ``brand_id``."""
        return any(m.brand_id == brand_id and m.verified_at for m in self.brand_memberships)

    def answers_for(self, brand_id: int | None) -> bool:
        """May act for ``brand_id`` (its inbox, logo, a proposal's status): a verified member
        of the brand, or a moderator."""
        return self.is_moderator or (brand_id is not None and self.speaks_for(brand_id))

    def get_id(self) -> str:
        return self.session_token

    def set_password(self, password: str) -> None:
        """Hash and store ``password``; also signs out every other session."""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)
        self.session_token = new_session_token()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def password_fingerprint(self) -> str:
        """A keyed digest of the password hash for links that must die when the password
        changes; it tells nothing of the hash itself (the secret key keys it)."""
        key = current_app.config["SECRET_KEY"].encode()
        digest = hmac.new(key, b"password:" + self.password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_moderator(self) -> bool:
        return self.role in (Role.MODERATOR, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
