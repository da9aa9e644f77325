"""Languages: Flask-Babel, the locale of each request, the language switcher, locale formats.

The language is the one the visitor chose with the switcher (a cookie), else the best match
for the browser's ``Accept-Language``, else English. Work done outside a request (jobs, email)
uses English unless it asks for another with ``flask_babel.force_locale``.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pycountry
from flask import Flask, has_request_context, request, url_for
from flask_babel import (
    Babel,
    force_locale,
    format_date,
    format_datetime,
    format_decimal,
    format_time,
    get_locale,
    get_translations,
)
from jinja2 import pass_eval_context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept

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
    return locale_for(request.cookies.get(COOKIE), request.accept_languages)


def locale_for(chosen: str | None, accept_languages: LanguageAccept) -> str:
    """The language of a request whose switcher cookie says ``chosen`` and whose browser
    accepts ``accept_languages`` (also read outside Flask, by :mod:`campaign.supports.lane`)."""
    if chosen in LANGUAGES:
        return chosen
    return accept_languages.best_match(LANGUAGES.keys(), default=DEFAULT_LOCALE)


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


def _instant(value: date | datetime | str) -> date | datetime:
    # The pages that show a JSON document (a person's data, the key list) get its ISO 8601
    # strings; a naive one is UTC, as Flask-Babel reads it.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def format_day(value: date | datetime | str | None) -> str:
    """A day as "1 Dec 2026" (English) or "1 dic 2026" (Spanish); empty for None. Takes an
    ISO 8601 string too."""
    if not value:
        return ""
    return format_date(_instant(value), "d MMM y")


def format_day_and_time(value: datetime | str | None, seconds: bool = False) -> str:
    """An instant as "3 Dec 2026, 01:46" (English) or "3 dic 2026, 01:46" (Spanish), in UTC
    (Flask-Babel's default time zone, as every time on the site), "01:46:53" with
    ``seconds`` (where signatures a second apart must look apart); empty for None. Takes an
    ISO 8601 string too."""
    if not value:
        return ""
    return format_datetime(_instant(value), "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm")


def machine_time(value: date | datetime | str | None) -> str:
    """The value of a ``<time datetime>``: a day as "2026-12-03", an instant as
    "2026-12-03T07:16:20+00:00" (in UTC, a naive one read as UTC; whole seconds, where
    ``isoformat()`` wrote six digits of fraction, which HTML does not allow); empty for
    None. Takes an ISO 8601 string too."""
    if not value:
        return ""
    value = _instant(value)
    if not isinstance(value, datetime):
        return value.isoformat()
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0).isoformat()


def format_time_of_day(value: datetime | None) -> str:
    """The time of an instant, "19:00", in UTC: the end of a span whose day is already shown
    (see :func:`format_day_and_time`); empty for None."""
    if not value:
        return ""
    return format_time(value, "HH:mm")


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


#: Translated strings without variables kept per language by :func:`template_words`.
PLAIN_STRINGS_KEPT = 2_000


@functools.lru_cache(maxsize=16)
def template_words(translations) -> dict:
    """Jinja's ``_``, ``gettext``, ``ngettext``, ``pgettext`` and ``npgettext`` bound to
    ``translations``, as Jinja's i18n extension makes them in its "newstyle" (the text
    marked safe where the template autoescapes, then formatted with the call's keywords).

    Each render finds its language's translations once and gets these (see
    :func:`register`): the extension's own callables go through Flask-Babel for every
    string (the request's locale, its domain, its cache: forty look-ups for a page of forty
    strings), and through three calls where these make one.
    """

    def finish(eval_ctx, text, variables):
        return (Markup(text) if eval_ctx.autoescape else text) % variables

    # A string without variables is the same every time: a page's forty are each looked
    # up, marked safe and formatted once per process (a fifth of rendering the layout).
    # Kept for the templates' own strings, a bounded number.
    plain: dict[str, Markup] = {}

    @pass_eval_context
    def gettext(eval_ctx, string, /, **variables):
        if variables or not eval_ctx.autoescape:
            return finish(eval_ctx, translations.ugettext(string), variables)
        found = plain.get(string)
        if found is None:
            found = finish(eval_ctx, translations.ugettext(string), variables)
            if len(plain) < PLAIN_STRINGS_KEPT:
                plain[string] = found
        return found

    @pass_eval_context
    def ngettext(eval_ctx, singular, plural, num, /, **variables):
        variables.setdefault("num", num)
        return finish(eval_ctx, translations.ungettext(singular, plural, num), variables)

    @pass_eval_context
    def pgettext(eval_ctx, string_context, string, /, **variables):
        variables.setdefault("context", string_context)
        return finish(eval_ctx, translations.upgettext(string_context, string), variables)

    @pass_eval_context
    def npgettext(eval_ctx, string_context, singular, plural, num, /, **variables):
        variables.setdefault("context", string_context)
        variables.setdefault("num", num)
        return finish(eval_ctx, translations.unpgettext(string_context, singular, plural, num), variables)

    return {
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "pgettext": pgettext,
        "npgettext": npgettext,
    }


def register(app: Flask) -> None:
    """Initialise Flask-Babel, the locale filters and ``Vary`` (the switcher's route is in
    :mod:`campaign.main.language`)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["date"] = format_day
    app.jinja_env.filters["day_and_time"] = format_day_and_time
    app.jinja_env.filters["time_of_day"] = format_time_of_day
    app.jinja_env.filters["machine_time"] = machine_time

    @app.context_processor
    def i18n_context():
        # The words of the render's language, bound once (a macro imported without the
        # context, ``{% from … import … %}``, uses Flask-Babel's own, which find them again).
        return {
            "current_locale": str(get_locale()),
            "language_links": language_links,
            **template_words(get_translations()),
        }

    @app.after_request
    def vary_on_language(response):
        # The same URL renders in the visitor's language: a shared cache must key on it.
        if response.mimetype in ("text/html", "application/atom+xml"):
            response.vary.update(("Accept-Language", "Cookie"))  # the header written once
        return response
