"""The sign form of a public campaign sent by a visitor who is not logged in, answered before
Flask's request machinery.

A surge of signatures is the site's heaviest load, and most of a signature's CPU was not the
signature: pushing Flask's request context, its hooks (the NUL check, the limiter, the
language, the security headers, the replica's cookie), Flask-Login asked who is logged in,
``url_for``, werkzeug's context proxies read about a hundred times. So a small WSGI
middleware (beside :mod:`campaign.supports.lane`, which confirms) recognises ``POST
/<kind>/<slug>/support`` and does what the view does with the same parts, and nothing else:

- the session opened and saved by the app's own session interface (the same signed cookie);
- the CSRF token checked as Flask-WTF checks it (signed with the app's key, not older than
  ``WTF_CSRF_TIME_LIMIT``, equal to the session's, and over HTTPS a Referer of this host);
- the kind's own :class:`~campaign.supports.forms.SupportForm`, validated;
- :func:`campaign.services.supports.add_support` with the campaign's terms from the hot
  cache, in the visitor's language (the consent text is stored in it) and with the share
  link that brought them (kept in their session);
- the view's answer: ``303`` to the thank-you page, the session keeping the last support
  (pending: one answer for every address, as the view gives anyone not logged in), private
  and never stored, with the headers every page gets.

Everything else falls through to Flask, with the request's body as it came, and nothing
written: a member or a browser with a remember cookie, a missing, stale or forged token (the
view sends the form back filled in), a form with a mistake (the view shows it), a campaign
that is not public, not open, endorses brands (the form offers them) or is unknown, a body
that is not a small urlencoded form, is cut off or holds a NUL byte (or a percent-escape that
is not UTF-8), a Host the app does not trust, and any error before the support is written.
An error once it is being written (the database lost, say) is answered as Flask answers it
(its 503 page of an outage, else its 500 page), by the app's own error handlers and hooks,
and not signed again by the view.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Iterable
from io import BytesIO
from urllib.parse import parse_qsl, quote

from babel import Locale
from flask import Flask
from flask_babel import force_locale
from flask_wtf.csrf import same_origin
from itsdangerous import BadData, URLSafeTimedSerializer
from markupsafe import escape
from werkzeug.datastructures import LanguageAccept, MultiDict
from werkzeug.http import HTTP_STATUS_CODES, parse_accept_header
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_content_length, get_host

from campaign import replica, security
from campaign.before_flask import Visitors
from campaign.i18n import COOKIE, locale_for
from campaign.kinds import KINDS, Kind
from campaign.services import ServiceError
from campaign.services import supports as service
from campaign.sharing import parse_referral
from campaign.supports.forms import SupportForm
from campaign.tokens import KeptSigners

log = logging.getLogger(__name__)

#: A sign form is a few hundred bytes; a longer body is left to Flask and its own limits.
MAX_BODY = 16 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"
SEE_OTHER = f"303 {HTTP_STATUS_CODES[303].upper()}"


@functools.lru_cache(maxsize=256)
def _language(chosen: str | None, accepted: str | None) -> str:
    """The language of a visitor whose switcher cookie says ``chosen`` and whose browser sends
    ``accepted`` (its ``Accept-Language``), as Flask's hook negotiates it: once for each pair,
    of which a surge's browsers send few."""
    return locale_for(chosen, parse_accept_header(accepted, LanguageAccept))


class FormsToFillAgain:
    """The lane's sign forms, kept once used to be filled in with the next signature's data
    (WTForms' ``Form.process``), a few per kind and language: building a form binds each of
    its fields anew, most of its cost (56 µs against 13 µs to fill one in again). Only a form
    whose signature was written goes back; one that failed to validate, or whose request
    failed, is dropped. A form is taken by one request at a time (the list's ``pop`` and
    ``append`` are each one step for threads and greenlets)."""

    KEPT = 8  # per kind and language: about one for each request a worker serves at once

    def __init__(self) -> None:
        self._free: dict[tuple[str, str], list] = {}

    def take(self, terms, locale: str, form_data: MultiDict):
        """A sign form of ``terms``' kind in ``locale``, filled in with ``form_data``."""
        free = self._free.get((terms.kind, locale))
        if free:
            try:
                form = free.pop()
            except IndexError:  # another request took the last one meanwhile
                pass
            else:
                form.process(form_data)
                return form
        return SupportForm.for_campaign(terms, shown=False, formdata=form_data, meta={"csrf": False})

    def give_back(self, form, terms, locale: str) -> None:
        """Keep ``form`` (taken for ``terms`` in ``locale``) for another signature."""
        free = self._free.setdefault((terms.kind, locale), [])
        if len(free) < self.KEPT:
            free.append(form)


class SignLane:
    """Wraps ``app.wsgi_app``: takes the support of a visitor who is not logged in."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        config = app.config
        self.visitors = Visitors(config)
        self.remember_cookie = config.get("REMEMBER_COOKIE_NAME", "remember_token")
        #: The view's answer's headers that are the same for every signature: those every page
        #: gets, never stored, and varying by the language (the hook's) and the session.
        self.answer_headers = (
            *security.baseline_headers(config),
            ("Cache-Control", "no-store, private"),
            ("Vary", "Accept-Language, Cookie"),
        )
        self._kinds: dict[str, Kind] | None = None
        self._thanks: str | None = None
        self._locales: dict[str, Locale] = {}
        self._tokens: tuple[str, URLSafeTimedSerializer] | None = None
        self._forms = FormsToFillAgain()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        kind_slug = self._route(environ)
        if kind_slug is None:
            return self.wsgi_app(environ, start_response)
        body, complete = self._body(environ)
        response = self._sign(environ, body, *kind_slug) if complete else None
        if response is None:
            if body is not None:
                environ["wsgi.input"] = BytesIO(body)  # Flask reads the form as it came
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def _route(self, environ: dict) -> tuple[Kind, str] | None:
        """The kind and slug of a sign form this lane may take, or None to let Flask."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
            return None
        if self._kinds is None:  # the routes are known once the blueprints are registered
            self._kinds = {
                rule.rule.partition("<")[0]: kind
                for kind in KINDS.values()
                for rule in self.app.url_map.iter_rules(f"{kind.name}.support")
            }
            self._thanks = next(self.app.url_map.iter_rules("supports.thanks")).rule.partition("<")[0]
        path = environ.get("PATH_INFO", "")
        head, _sep, slug = path.removesuffix("/support").rpartition("/")
        kind = self._kinds.get(head + "/")
        if kind is None or kind.endorses_brands or not slug or not path.endswith("/support"):
            return None
        if "\x00" in path or not self.visitors.trusts_host(environ):
            return None
        return kind, slug

    @staticmethod
    def _body(environ: dict) -> tuple[bytes | None, bool]:
        """The urlencoded body as read (once, to be given back to Flask), or None to let Flask
        read it; and whether it is whole (a client that stopped sending gives fewer bytes than
        its length: Flask answers 400)."""
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != FORM_TYPE:
            return None, False
        length = get_content_length(environ)  # as werkzeug reads it; None when chunked
        if length is None or not 0 < length <= MAX_BODY:
            return None, False
        body = environ["wsgi.input"].read(length)
        return body, len(body) == length

    def _sign(self, environ: dict, body: bytes, kind: Kind, slug: str):
        """The view's answer, or None (nothing written) to let Flask answer."""
        try:  # a percent-escape that is not UTF-8 too: werkzeug would keep it as written
            fields = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True, errors="strict")
        except ValueError:  # UnicodeDecodeError is one
            return None
        if any("\x00" in key or "\x00" in value for key, value in fields):
            return None  # Flask answers 400
        form_data = MultiDict(fields)
        request = Request(environ)  # its cookies only: the body was read above
        cookies = request.cookies
        if self.remember_cookie in cookies:
            return None  # Flask-Login would log them in
        app = self.app
        interface = app.session_interface
        writing = False
        try:
            with app.app_context():
                session = interface.open_session(app, request)
                if (
                    session is None
                    or "_user_id" in session
                    or not self._token_holds(environ, session, form_data)
                ):
                    return None
                terms = service.campaign_terms(kind.value, slug)
                if terms is None or not terms.is_public:
                    return None
                locale = _language(cookies.get(COOKIE), environ.get("HTTP_ACCEPT_LANGUAGE"))
                with force_locale(self._locale(locale)):
                    form = self._forms.take(terms, locale, form_data)
                    if not form.validate():
                        return None
                    channel, referrer = parse_referral(session.get(f"ref:{slug}"))
                    writing = True
                    result = service.add_support(
                        terms.id,
                        **form.support_data(),
                        # As get_remote_address() reads it (ProxyFix has set it already).
                        ip_address=environ.get("REMOTE_ADDR") or "127.0.0.1",
                        referral=channel,
                        referred_by_id=referrer,
                        locale=locale,
                        terms=terms,
                    )
                # Not logged in: one answer for every address, whether it supported already
                # is told by email to its owner only (as the view answers).
                session["last_support"] = {
                    "id": result.support_id,
                    "outcome": service.Outcome.PENDING.value,
                    "email": form.email.data,
                }
                self._forms.give_back(form, terms, locale)
                # The cookies as the view's answer gets them: its session (which the session
                # interface signs), and the replica's read-your-writes mark.
                jar = Response()
                replica.remember_write(jar, app.config)
                interface.save_session(app, session, jar)
                response = self._see_other(environ, slug, jar.headers.getlist("Set-Cookie"))
        except ServiceError:
            return None  # refused before anything was written: the view says why
        except Exception as exc:
            if not writing:
                log.exception("the sign lane failed before writing; Flask answers instead")
                return None
            # The support may be written: not signed again by the view, but answered as
            # Flask answers the error (the 503 page of an outage, else the 500 page).
            return self._error_answer(environ, exc)
        return response

    def _see_other(self, environ: dict, slug: str, cookies: list[str]) -> Callable:
        """The view's answer, byte for byte as werkzeug's ``redirect(…, 303)`` and the app's
        hooks make it (the body, the headers every page gets, private and never stored: it
        carries the visitor's session, their email in it), built from the headers made once
        instead of a ``Response`` that copies and checks them all for each signature."""
        script = environ.get("SCRIPT_NAME", "")
        location = (iri_to_uri(script) if script else "") + self._thanks + quote(slug)
        shown = escape(location)
        body = (
            "<!doctype html>\n"
            "<html lang=en>\n"
            "<title>Redirecting...</title>\n"
            "<h1>Redirecting...</h1>\n"
            "<p>You should be redirected automatically to the target URL: "
            f'<a href="{shown}">{shown}</a>. If not, click the link.\n'
        ).encode()
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Location", location),
            *self.answer_headers,
            *(("Set-Cookie", cookie) for cookie in cookies),
        ]

        def answer(environ: dict, start_response: Callable) -> Iterable[bytes]:
            start_response(SEE_OTHER, headers)
            return [body]

        return answer

    def _error_answer(self, environ: dict, exc: Exception):
        """Flask's answer to ``exc`` raised by a view: its error handler and hooks."""
        app = self.app
        with app.request_context(environ):
            try:
                answer = app.handle_user_exception(exc)
            except Exception as unhandled:  # no handler: the 500 page, logged
                return app.handle_exception(unhandled)
            return app.finalize_request(answer, from_error_handler=True)

    def _token_holds(self, environ: dict, session, form_data: MultiDict) -> bool:
        """Whether the form's CSRF token passes Flask-WTF's check (``validate_csrf``, and over
        HTTPS the Referer of ``CSRFProtect.protect``)."""
        config = self.app.config
        field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        sent, kept = form_data.get(field), session.get(field)
        if not sent or not isinstance(kept, str):
            return False
        secret = config.get("WTF_CSRF_SECRET_KEY") or self.app.secret_key
        if self._tokens is None or self._tokens[0] != secret:
            # Flask-WTF's serializer (the same tokens), its signer kept
            self._tokens = (secret, KeptSigners(secret, salt="wtf-csrf-token"))
        try:
            token = self._tokens[1].loads(sent, max_age=config.get("WTF_CSRF_TIME_LIMIT", 3600))
        except BadData:
            return False
        if not isinstance(token, str) or not hmac.compare_digest(kept, token):
            return False
        if environ.get("wsgi.url_scheme") == "https" and config.get("WTF_CSRF_SSL_STRICT", True):
            referrer = environ.get("HTTP_REFERER")
            if not referrer or not same_origin(referrer, f"https://{get_host(environ)}/"):
                return False
        return True

    def _locale(self, name: str) -> Locale:
        locale = self._locales.get(name)
        if locale is None:
            locale = self._locales[name] = Locale.parse(name)
        return locale
