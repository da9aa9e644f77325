"""The outbox: records of work owed, written in the transaction that owes it.

A :class:`Notice` (something happened that supporters or an organiser must hear of) and a
:class:`FanoutBatch` (one batch of recipients of a notice to many) are written with the change
that justifies them; :mod:`campaign.outbox` enqueues their jobs after that commit, and the
sweeper enqueues again those a lost job left undone. A :class:`ConfirmationOwed` is a
support's confirmation email owed, written by the statement that signs. A
:class:`MailReceipt` is claimed by a mail job before it sends, so a second run sends nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaign.models.base import Base, UTCDateTime, utcnow

#: What a notice can be about: the topic names what its ``object_id`` is (an update, a brand's
#: answer, a campaign won, a proposal's status change, a campaign that escalates another, a
#: delivered round, a campaign reviewed).
NOTICE_TOPICS = ("update", "answer", "victory", "status", "escalation", "delivered", "review")


class Notice(Base):
    """A notice to send about something that happened, written in the transaction that made
    it happen (a transactional outbox): if the job that sends it is lost, the sweeper
    finds the row still undone and enqueues it again."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("topic", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ConfirmationOwed(Base):
    """A support's confirmation email, owed: written by the statement that signs (or with the
    resend that makes it owed again, its ``owed_at`` then renewed), deleted by the dispatcher
    in the transaction that records its receipt (:mod:`campaign.jobs.supports`).

    A table of its own, not a mark on the support: sending an email deletes a narrow row
    here, where clearing a mark on ``supports`` wrote a new version of the whole support,
    with an entry in each of its indexes (the README's "The emails owed, a table of their
    own" has the bench's figures for both). The support's id orders the claims (the
    primary key's index, the only one). On PostgreSQL a dispatcher claims a batch by its
    rows' locks; on SQLite by setting ``claimed_at``, and a claim older than
    ``CONFIRMATION_CLAIM_SECONDS`` is a dead worker's, taken again."""

    __tablename__ = "confirmations_owed"

    support_id: Mapped[int] = mapped_column(
        ForeignKey("supports.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FanoutBatch(Base):
    """One batch of a fan-out (a notice to many supporters), recorded once when the fan-out is
    decided: an outbox row. ``send_batch`` sets ``done_at``; the sweeper enqueues a batch whose
    job was lost (Redis lost it, a worker died for good) again. The recipients are the
    consenting supporters with ids in ``first_id..last_id``; their receipts make a second run
    send nothing twice."""

    __tablename__ = "fanout_batches"
    __table_args__ = (UniqueConstraint("topic", "object_id", "first_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class MailReceipt(Base):
    """Claimed by a mail job before it sends: a second run finds it and sends nothing.

    A single email's receipt is inserted and committed with its send (``sent_at`` set). A
    fan-out batch claims all its receipts first, in one statement (``claimed_at`` set,
    ``sent_at`` empty), sends, then marks those the server took in one statement: a receipt
    claimed and not marked is one whose email may or may not have left, which a later run
    of the batch sends again, with the same Message-ID, once the claim has lapsed.
    """

    __tablename__ = "mail_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    # Set when the mail server refused the address for good: not retried, not resent.
    error: Mapped[str | None] = mapped_column(String(300))
    # Empty while a batch's claim stands and its email is not known to have left.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
