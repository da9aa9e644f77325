"""The deployment's Ed25519 signing key: loaded, recorded with its validity, used to sign.

Development generates a key once into ``instance/signing_key.pem``; production is given one
by ``SIGNING_KEY`` (a PEM private key, or the base64 of its 32 raw bytes; ``flask
signing-key`` prints a new one) and refuses to start without it. Rotating is setting a new
key and restarting: the first signature with it records it in ``signing_keys`` and closes the
validity of the key before, which stays published so older statements keep verifying.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import SigningKey, utcnow
from campaign.verifier.verify_proof import key_id

ALGORITHM = "Ed25519"


class SigningKeyRetired(RuntimeError):
    """This process signs with a key a newer one replaced (restart it with the new key)."""


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """Read a PEM (PKCS#8) Ed25519 private key, or the base64 of its 32 raw bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("SIGNING_KEY is not an Ed25519 key")
        return key
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("SIGNING_KEY must be a PEM key or the base64 of 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def new_private_key_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


def instance_key(path: Path) -> str:
    """The development key at ``path``, generated once (another process may race us)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        pem = new_private_key_pem()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text()
        with os.fdopen(fd, "w") as fh:
            fh.write(pem)
        return pem


def private_key() -> Ed25519PrivateKey:
    return current_app.extensions["groundswell.signing_key"]


def public_bytes(key: Ed25519PrivateKey | None = None) -> bytes:
    return (
        (key or private_key())
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def current_key_id() -> str:
    return key_id(public_bytes())


def record_current_key() -> SigningKey:
    """The current key's row, recorded at its first use; a newer key's first use closes the
    validity of the keys before it. Raises SigningKeyRetired if a newer key has taken over.
    Writes in the caller's transaction (no commit)."""
    kid = current_key_id()
    row = db.session.execute(select(SigningKey).filter_by(key_id=kid)).scalar_one_or_none()
    if row is None:
        now = utcnow()
        insert_ignoring_conflicts(
            SigningKey,
            ["key_id"],
            key_id=kid,
            algorithm=ALGORITHM,
            public_key=base64.b64encode(public_bytes()).decode(),
            valid_from=now,
        )
        row = db.session.execute(select(SigningKey).filter_by(key_id=kid)).scalar_one()
        db.session.execute(
            update(SigningKey)
            .where(
                SigningKey.key_id != kid,
                SigningKey.valid_until.is_(None),
                SigningKey.valid_from <= row.valid_from,
            )
            .values(valid_until=row.valid_from)
        )
    if row.valid_until is not None:
        raise SigningKeyRetired(f"signing key {kid} was replaced on {row.valid_until}")
    return row


def canonical(fields: dict) -> str:
    """The one text of a statement that is signed, stored and served as is."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sign(fields: dict) -> dict:
    """Sign ``fields`` plus ``key_id`` and ``time`` (now, within the key's validity).
    Returns the signed document ``{"statement", "signature", "key"}`` the verifier checks.
    Records the key at its first use (no commit); raises SigningKeyRetired."""
    record_current_key()
    text = canonical({**fields, "key_id": current_key_id(), "time": iso(utcnow())})
    return {
        "statement": text,
        "signature": base64.b64encode(private_key().sign(text.encode())).decode(),
        "key": public_key_entry(),
    }


def signed_document(statement: str, signature: str, kid: str) -> dict:
    """A stored statement and signature as the document the verifier reads."""
    row = db.session.execute(select(SigningKey).filter_by(key_id=kid)).scalar_one_or_none()
    return {"statement": statement, "signature": signature, "key": key_entry(row) if row else {"key_id": kid}}


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_entry(row: SigningKey) -> dict:
    return {
        "key_id": row.key_id,
        "algorithm": row.algorithm,
        "public_key": row.public_key,
        "valid_from": iso(row.valid_from) if row.valid_from else None,
        "valid_until": iso(row.valid_until) if row.valid_until else None,
    }


def public_key_entry() -> dict:
    """The current key as the key list shows it (before its first use: no validity yet)."""
    row = db.session.execute(select(SigningKey).filter_by(key_id=current_key_id())).scalar_one_or_none()
    if row is not None:
        return key_entry(row)
    return {
        "key_id": current_key_id(),
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(public_bytes()).decode(),
        "valid_from": None,
        "valid_until": None,
    }


def key_list() -> dict:
    """Every key that signed for this deployment, with its validity, and the current one."""
    rows = db.session.execute(select(SigningKey).order_by(SigningKey.valid_from)).scalars()
    keys = [key_entry(row) for row in rows]
    if current_key_id() not in {k["key_id"] for k in keys}:
        keys.append(public_key_entry())
    return {"type": "groundswell-keys", "current": current_key_id(), "keys": keys}


def init_app(app) -> None:
    """Load the key named by the config (fails fast on a malformed key)."""
    try:
        app.extensions["groundswell.signing_key"] = parse_private_key(app.config["SIGNING_KEY"])
    except ValueError as exc:
        raise RuntimeError(f"SIGNING_KEY cannot be read: {exc}") from None
