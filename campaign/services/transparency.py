"""The public log that only grows: signed, hash-chained entries and signed tree heads.

Every signed delivery statement, every brand answer's digest and every change to what a
delivered round holds (supports invalidated, or released, after delivery) is appended here,
so anyone who mirrors the log can prove it was never rewritten: each entry names the hash of
the one before it, and a consistency proof (RFC 9162) shows that a newer signed tree head
extends an older one. A change to a delivered count is a new entry, never an edit.

Other code appends with :func:`append_log_entry`, in its own transaction.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from campaign import merkle, signing
from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import LogEntry, LogHead, utcnow

#: The kinds of entry the log holds (the payload each carries is documented in README).
KINDS = ("delivery", "answer", "invalidation", "release")
ZERO_HASH = "0" * 64
APPEND_TRIES = 20


class LogAppendConflict(RuntimeError):
    """The log's next place kept being taken by others (the caller's job retries)."""


def append_log_entry(kind: str, payload: dict) -> LogEntry:
    """Append a signed entry of ``kind`` with ``payload`` (JSON-serialisable) to the log,
    and a signed tree head of the new size, in the caller's transaction (no commit: the
    entry commits, or rolls back, with the change it records).

    The place is taken by an insert on the unique ``seq``: if another transaction took it
    first, this one waits for it, reads the new end of the log and tries the next place.
    Raises ValueError for an unknown kind; LogAppendConflict after APPEND_TRIES collisions.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown log entry kind {kind!r}")
    for _ in range(APPEND_TRIES):
        head = latest_head()
        size = head.tree_size if head else 0
        previous = ZERO_HASH
        if size:
            previous = db.session.execute(select(LogEntry.entry_hash).filter_by(seq=size - 1)).scalar_one()
        document = signing.sign(
            {"type": "groundswell-log-entry", "seq": size, "kind": kind, "payload": payload, "prev": previous}
        )
        text = document["statement"]
        leaf = merkle.leaf_hash(text.encode())
        entry_id = insert_ignoring_conflicts(
            LogEntry,
            ["seq"],
            seq=size,
            kind=kind,
            statement=text,
            signature=document["signature"],
            key_id=document["key"]["key_id"],
            entry_hash=hashlib.sha256(text.encode()).hexdigest(),
            leaf_hash=leaf.hex(),
            created_at=utcnow(),
        )
        if entry_id is None:
            continue  # another append took this place first: read the new end and go on
        frontier = [(int(s), bytes.fromhex(h)) for s, h in json.loads(head.frontier)] if head else []
        frontier = merkle.extend_frontier(frontier, leaf)
        root = merkle.frontier_root(frontier)
        signed = signing.sign(
            {"type": "groundswell-log-head", "tree_size": size + 1, "root_hash": root.hex()}
        )
        # Our entry holds place ``size``, so no other head of size + 1 can exist.
        db.session.add(
            LogHead(
                tree_size=size + 1,
                root_hash=root.hex(),
                frontier=json.dumps([[s, h.hex()] for s, h in frontier]),
                statement=signed["statement"],
                signature=signed["signature"],
                key_id=signed["key"]["key_id"],
                created_at=utcnow(),
            )
        )
        db.session.flush()
        return db.session.get(LogEntry, entry_id)
    raise LogAppendConflict("the log's next place was taken too many times in a row")


def latest_head() -> LogHead | None:
    return db.session.execute(
        select(LogHead).order_by(LogHead.tree_size.desc()).limit(1)
    ).scalar_one_or_none()


def head_of_size(size: int) -> LogHead | None:
    return db.session.execute(select(LogHead).filter_by(tree_size=size)).scalar_one_or_none()


def document_of(row: LogEntry | LogHead) -> dict:
    """A stored entry or head as the signed document the verifier reads."""
    return signing.signed_document(row.statement, row.signature, row.key_id)


def entries(after: int = -1, limit: int | None = None) -> list[LogEntry]:
    stmt = select(LogEntry).where(LogEntry.seq > after).order_by(LogEntry.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).scalars())


def entries_newest(limit: int) -> list[LogEntry]:
    return list(db.session.execute(select(LogEntry).order_by(LogEntry.seq.desc()).limit(limit)).scalars())


def log_document() -> dict:
    """The whole log as one document: the latest signed head and every entry, in order."""
    head = latest_head()
    if head is None:
        return {"head": None, "entries": []}
    rows = db.session.execute(
        select(LogEntry).where(LogEntry.seq < head.tree_size).order_by(LogEntry.seq)
    ).scalars()
    return {"head": document_of(head), "entries": [document_of(row) for row in rows]}


def consistency(first: int, second: int) -> dict:
    """The proof that the log at size ``second`` extends the log at size ``first``.
    Raises ValueError if either size has no signed head."""
    if not 0 < first <= second:
        raise ValueError("sizes must satisfy 0 < first <= second")
    if head_of_size(first) is None or head_of_size(second) is None:
        raise ValueError("no signed head of that size")
    leaves = [
        bytes.fromhex(h)
        for h in db.session.execute(
            select(LogEntry.leaf_hash).where(LogEntry.seq < second).order_by(LogEntry.seq)
        ).scalars()
    ]
    return {
        "first": first,
        "second": second,
        "proof": [h.hex() for h in merkle.consistency_proof(leaves, first, second)],
    }
