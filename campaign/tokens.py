"""Signed, expiring tokens for links sent by email; the serializer that keeps its signer
(:class:`KeptSigners`, also the session cookie's and the sign lane's CSRF check's), and the
secret-keyed hash of referral codes and Message-IDs (:func:`keyed_hex`)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Serializer, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode


class TokenError(Exception):
    """A token that cannot be used; ``expired`` tells a stale link from a forged one."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


class _Signer(TimestampSigner):
    """itsdangerous's timed signer with the newest secret's key derived once, not for each
    token (any other secret's is derived as before), and SHA-1 given as ``hashlib``'s own
    function: itsdangerous's default wraps it in a Python function, which ``hmac`` does not
    hand to OpenSSL's HMAC (it builds the HMAC from two hash objects in Python instead; the
    signature is the same)."""

    default_digest_method = staticmethod(hashlib.sha1)

    @functools.cached_property
    def _newest_key(self) -> bytes:
        return super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._newest_key if secret_key is None else super().derive_key(secret_key)


class KeptSigners(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer (the same tokens, read and made alike) whose
    own salt's signer is made once, with its newest key derived once: a signer keeps nothing
    of the tokens it signs or reads, and making one for each token, then deriving its key
    (an HMAC), was a third of a token's time. Used for the app's links, its session cookie
    (:mod:`campaign.sessions`) and the sign lane's CSRF check."""

    default_signer = _Signer
    #: A payload whose JSON is shorter than this is not compressed: itsdangerous tries zlib on
    #: every one, which sets up its whole state each time. 0: compressed as itsdangerous does.
    compress_from: float = 0

    def dump_payload(self, obj: Any) -> bytes:
        if not self.compress_from:
            return super().dump_payload(obj)
        if self.serializer is URLSafeTimedSerializer.default_serializer and not self.serializer_kwargs:
            json = _compact_json(obj).encode()
        else:
            json = Serializer.dump_payload(self, obj)
        if len(json) < self.compress_from:
            return base64_encode(json)
        return super().dump_payload(obj)

    @functools.cached_property
    def _own_signer(self) -> TimestampSigner:
        return super().make_signer(self.salt)

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        if salt is None or salt is self.salt:
            return self._own_signer
        return super().make_signer(salt)


class _Serializer(KeptSigners):
    """The app's links: never compressed: our payloads are an id or two and an address, which
    zlib does not shorten, and trying took most of a token's time (zlib sets up its whole
    state for each). Tokens it compressed are still read."""

    compress_from = math.inf


#: itsdangerous's compact JSON (no spaces, not only ASCII) with its encoder made once:
#: ``json.dumps`` with any argument makes a new one for each call.
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@functools.lru_cache(maxsize=64)
def _serializer_for(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return _Serializer(secret_key, salt=f"groundswell.{purpose}")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    # Made once per key and purpose: a batch signs a link or two for each of its emails.
    return _serializer_for(current_app.config["SECRET_KEY"], purpose)


def make_token(purpose: str, payload: Any) -> str:
    """Sign ``payload`` for ``purpose`` (the salt keeps one purpose's tokens out of another)."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int) -> Any:
    """The payload of ``token``; raises :class:`TokenError` if it is forged or older than ``max_age``."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError(expired=True) from None
    except BadSignature:
        raise TokenError(expired=False) from None


def keyed_hex(message: bytes) -> str:
    """HMAC-SHA256 of ``message`` keyed with the app's secret, in hex: a value only the site
    can make (a referral code's check, a Message-ID). One call into OpenSSL, where ``hmac.new``
    makes an object to hash one message."""
    return hmac.digest(_secret_bytes(current_app.config["SECRET_KEY"]), message, "sha256").hex()


@functools.lru_cache(maxsize=4)
def _secret_bytes(secret: str) -> bytes:
    return secret.encode()
