"""Languages: Flask-Babel, the locale of each request, the language switcher, locale formats.

The language is the one the visitor chose with the switcher (a cookie), else the best match
for the browser's ``Accept-Language``, else English. Work done outside a request (jobs, email)
uses English unless it asks for another with ``flask_babel.force_locale``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pycountry
from flask import Flask, has_request_context, request, url_for
from flask_babel import Babel, force_locale, format_date, format_decimal, get_locale, get_translations
from jinja2 import pass_context

#: The languages the catalogues are complete for; the first is the default.
LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LOCALE = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()


def select_locale() -> str | None:
    """The switcher's choice, else the browser's best match, else None (the default)."""
    if not has_request_context():
        return None
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES.keys(), default=DEFAULT_LOCALE)


def current_language() -> str:
    """The language of this request, to store with what we will email about later."""
    return str(get_locale() or DEFAULT_LOCALE)


def language_of(*records) -> str:
    """The language to write to whoever these records are about: the first stored one among
    ``records`` (say a support's member, then the support), else the default."""
    for record in records:
        locale = getattr(record, "locale", None)
        if locale in LANGUAGES:
            return locale
    return DEFAULT_LOCALE


@contextmanager
def writing_to(*records, locale: str | None = None) -> Iterator[None]:
    """Within it, words, numbers and dates are in the language of whoever ``records`` are
    (see :func:`language_of`), or in ``locale``: for emails, composed outside any request."""
    with force_locale(locale if locale in LANGUAGES else language_of(*records)):
        yield


def _here() -> str:
    """The current page as a site-relative path, for the switcher's ``next``."""
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def language_links() -> list[dict]:
    """The switcher's entries: one link per language, the current one marked."""
    current = str(get_locale())
    here = _here() if has_request_context() else "/"
    return [
        {
            "code": code,
            "name": name,
            "current": code == current,
            "url": url_for("i18n.set_language", code=code, next=here),
        }
        for code, name in LANGUAGES.items()
    ]


def format_number(value) -> str:
    """An integer or decimal with the locale's grouping (1,234 in English, 12.345 in Spanish);
    empty for None (a count not known yet)."""
    if value is None:
        return ""
    return format_decimal(value)


def format_day(value: date | datetime | None) -> str:
    """A day as "1 Dec 2026" (English) or "1 dic 2026" (Spanish); empty for None."""
    if not value:
        return ""
    return format_date(value, "d MMM y")


def _sort_key(name: str) -> str:
    # "Åland" beside "Albania" and "Égypte" beside "Ecuador": accents do not move a name.
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


#: Country names by ISO code, in English (``CountryNames`` gives them in the reader's language).
COUNTRY_NAMES = {c.alpha_2: getattr(c, "common_name", c.name) for c in pycountry.countries}


class CountryNames:
    """Country names by ISO code in the current language (``.get`` like the English dict)."""

    def __init__(self, english: dict[str, str]):
        self.english = english

    def get(self, code: str | None, default: str | None = None) -> str | None:
        locale = get_locale()
        if code and locale is not None and locale.language != DEFAULT_LOCALE:
            name = locale.territories.get(code)
            if name:
                return name
        return self.english.get(code, default)

    def choices(self) -> list[tuple[str, str]]:
        """(code, name) for every country, sorted by the name in the current language."""
        names = [(code, self.get(code)) for code in self.english]
        return sorted(names, key=lambda pair: _sort_key(pair[1]))


#: The template context's name for the translations a render's words come from.
_WORDS = "_translations"


def _words(context):
    # Found once per render by the context processor below; a macro imported without the
    # context (``{% from … import … %}``) finds them again.
    words = context.get(_WORDS)
    return words if words is not None else get_translations()


@pass_context
def _gettext(context, string):
    return _words(context).ugettext(string)


@pass_context
def _ngettext(context, singular, plural, n):
    return _words(context).ungettext(singular, plural, n)


@pass_context
def _pgettext(context, string_context, string):
    return _words(context).upgettext(string_context, string)


@pass_context
def _npgettext(context, string_context, singular, plural, n):
    return _words(context).unpgettext(string_context, singular, plural, n)


def register(app: Flask) -> None:
    """Initialise Flask-Babel, the locale filters and ``Vary`` (the switcher's route is in
    :mod:`campaign.main.language`)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["date"] = format_day
    # Flask-Babel's template callables find the translations again for every string (the
    # request's locale, its domain, its cache: about forty look-ups for a page of forty
    # strings); these read the ones the render found once, in the locale it began in.
    app.jinja_env.install_gettext_callables(
        gettext=_gettext, ngettext=_ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )

    @app.context_processor
    def i18n_context():
        return {
            "current_locale": str(get_locale()),
            "language_links": language_links,
            _WORDS: get_translations(),
        }

    @app.after_request
    def vary_on_language(response):
        # The same URL renders in the visitor's language: a shared cache must key on it.
        if response.mimetype in ("text/html", "application/atom+xml"):
            response.vary.update(("Accept-Language", "Cookie"))  # the header written once
        return response
