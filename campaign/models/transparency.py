"""The public log that only grows, and the keys that sign it and the delivery statements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.models.base import Base, UTCDateTime, utcnow


class SigningKey(Base):
    """A public key that signed for this deployment, and when it was the one in use."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="Ed25519")
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the 32 raw bytes
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LogEntry(Base):
    """One entry of the public log. ``seq`` is unique: two appends at once cannot both take
    the same place (the loser retries after the winner), so the chain never forks."""

    __tablename__ = "log_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    # The signed text (canonical JSON holding seq, kind, time, payload and the previous
    # entry's hash); entry_hash is its SHA-256, leaf_hash its RFC 6962 leaf hash.
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(120))
    key_id: Mapped[str] = mapped_column(String(16))
    entry_hash: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogHead(Base):
    """A signed tree head: the log's size and Merkle root at one moment, one per size."""

    __tablename__ = "log_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(Integer, unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    # The right edge of the tree (hex hashes of its perfect subtrees, largest first), so the
    # next head is computed from this one without reading every entry.
    frontier: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(120))
    key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
