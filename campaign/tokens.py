"""Signed, expiring tokens for links sent by email."""

from __future__ import annotations

import functools
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Serializer, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode


class TokenError(Exception):
    """A token that cannot be used; ``expired`` tells a stale link from a forged one."""

    def __init__(self, expired: bool):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed tokens, never compressed: our payloads are an id or two
    and an address, which zlib does not shorten, and trying took most of a token's time
    (zlib sets up its whole state for each). Tokens it compressed are still read."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


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
