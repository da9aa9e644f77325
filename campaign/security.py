"""Response headers that make every page safe by default."""

from __future__ import annotations

from flask import Flask, abort, g, request

# No inline script anywhere: scripts come from our own static folder only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'; frame-ancestors 'none'"
)


# The widget may be framed by any site (that is its purpose); nothing else may.
EMBED_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def hsts_header(config) -> str:
    """Strict-Transport-Security's value (sent when cookies are secure, that is over HTTPS)."""
    hsts = "max-age=31536000"
    if config.get("HSTS_INCLUDE_SUBDOMAINS"):
        hsts += "; includeSubDomains"
    if config.get("HSTS_PRELOAD"):
        hsts += "; preload"
    return hsts


def baseline_headers(config) -> list[tuple[str, str]]:
    """The headers every response of a page that may not be framed gets (for a response
    made outside Flask, see :mod:`campaign.hot_count`)."""
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if config.get("SESSION_COOKIE_SECURE"):
        headers.append(("Strict-Transport-Security", hsts_header(config)))
    return headers


def register(app: Flask) -> None:
    hsts = hsts_header(app.config)

    @app.before_request
    def refuse_nul_bytes():
        # No text we store or look up may contain NUL (PostgreSQL refuses it): answer a clear
        # 400 before any query instead of failing deep inside one.
        if (
            "\x00" in request.path
            or _has_nul(request.args.values())
            or (request.method == "POST" and _has_nul(request.form.values()))
        ):
            abort(400)

    baseline = [(key.lower(), key, value) for key, value in baseline_headers({})]

    @app.after_request
    def secure_headers(response):
        # Each header is added unless the view set its own: the names present are read
        # once (werkzeug's ``setdefault`` reads them all again for every header).
        headers = response.headers
        present = set(headers.keys(lower=True))
        framed = headers.get("Content-Security-Policy") == EMBED_CSP  # the widget's own
        for lower, key, value in baseline:
            if lower not in present and not (framed and lower == "x-frame-options"):
                headers.add(key, value)
        if app.config.get("SESSION_COOKIE_SECURE") and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", hsts)
        # A page carrying a CSRF token (or anything of a logged-in member) is private to one
        # session: never stored by a shared or browser cache.
        if "csrf_token" in g or request.cookies.get("remember_token"):
            cache_control = response.cache_control  # parsed again at every read
            cache_control.no_store = True
            cache_control.private = True
            cache_control.public = False
            cache_control.max_age = None
        return response
