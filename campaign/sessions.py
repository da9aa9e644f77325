"""The session: Flask's signed cookie, its serializer made once per secret key."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SignedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session (the same cookie, signed the same way), with its
    serializer made once for each secret key and its fallbacks, not for every open and
    every save of a session (making one checks its JSON serializer by encoding ``{}``)."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._serializer
        if made is None or made[0] != keys:
            made = self._serializer = (keys, super().get_signing_serializer(app))
        return made[1]
