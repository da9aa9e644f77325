"""Response headers that make every page safe by default."""

from __future__ import annotations

from flask import Flask, g, request

# No inline script anywhere: scripts come from our own static folder only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; "
       "object-src 'none'; frame-ancestors 'none'")


def register(app: Flask) -> None:
    @app.after_request
    def secure_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # A page carrying a CSRF token (or anything of a logged-in member) is private to one
        # session: never stored by a shared or browser cache.
        if "csrf_token" in g or request.cookies.get("remember_token"):
            response.cache_control.no_store = True
            response.cache_control.private = True
            response.cache_control.public = False
            response.cache_control.max_age = None
        return response
