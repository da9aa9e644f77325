"""The session: Flask's signed cookie, its serializer made once per secret key, a short one
not compressed."""

from __future__ import annotations

import hashlib

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from campaign.tokens import KeptSigners

#: A session's JSON shorter than this goes into its cookie as it is, not compressed: zlib
#: sets up its whole state for each call (a signature's CPU went 0.475 -> 0.455 ms without
#: it, ``python -m bench.request_cpu_gevent``), to save a few dozen bytes of a cookie this
#: short. Flask reads the cookie either way (a compressed one starts with a dot).
COMPRESS_FROM = 512


class _SessionSerializer(KeptSigners):
    """Flask's session serializer (:class:`campaign.tokens.KeptSigners`), a short session's
    JSON not compressed (:data:`COMPRESS_FROM`)."""

    compress_from = COMPRESS_FROM


class SignedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session (the same cookie, signed the same way, compressed only
    from :data:`COMPRESS_FROM` bytes), with its
    serializer made once for each secret key and its fallbacks, not for every open and
    every save of a session (making one checks its JSON serializer by encoding ``{}``), and
    its signer kept (:class:`campaign.tokens.KeptSigners`: not made, its key not derived,
    at each open and each save). SHA-1 is ``hashlib``'s own function, which ``hmac`` hands to
    OpenSSL (Flask's wraps it in a Python function); the signature is the same."""

    digest_method = staticmethod(hashlib.sha1)

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._serializer
        if made is None or made[0] != keys:
            flasks = super().get_signing_serializer(app)
            kept = None
            if flasks is not None:  # Flask's, with the same keys, salt, serializer and signing
                kept = _SessionSerializer(
                    flasks.secret_keys,
                    salt=flasks.salt,
                    serializer=flasks.serializer,
                    signer_kwargs=flasks.signer_kwargs,
                )
            made = self._serializer = (keys, kept)
        return made[1]
