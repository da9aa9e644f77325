"""Campaign cards, rendered once per process for each campaign, language and shown values.

A listing (browse, search, a topic, the home page, a brand's page) shows a dozen cards, and
rendering each through the ``campaign_card_html`` macro (its translations, number and date
formats, links) was most of a search page's web time. Each web process keeps the cards it
rendered, keyed on every value a card shows (:func:`card_key`): a campaign whose count,
state, goal, picture, slug or brand changed has a new key, so a card is never older than the
row the page just read, and nothing needs to be told when a campaign changes.

The title and the summary are left out of what is kept: a search marks the words it found
in them, differently for every query. A card is kept as the HTML around them, and the title
and summary (marked, or escaped as they are) are put in for each page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import current_app, get_template_attribute, has_request_context, request
from flask_babel import get_locale
from markupsafe import Markup, escape

# Stand-ins for the title and summary while a card is rendered to be kept. Escaped text can
# never contain them (a "<" of a title is "&lt;" in the page), so they are found only where
# the macro put them.
_TITLE = Markup("<!--card-title-->")
_SUMMARY = Markup("<!--card-summary-->")


class LruCache:
    """At most ``size`` values, the least recently used forgotten first; safe across
    threads (a lost race renders a card twice, and both renders are the same)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def card_key(campaign) -> tuple:
    """Every value the card of ``campaign`` shows, but its title and summary: the language
    (words, numbers, dates), where the site is mounted (links), and the campaign's kind,
    slug, state, count, goal, victory date, picture and brand. A value the macro starts to
    show must be added here (``tests/web/test_cards.py`` changes each column and compares)."""
    brand = campaign.target_brand
    return (
        str(get_locale()),
        request.script_root if has_request_context() else None,
        campaign.id,
        campaign.kind,
        campaign.slug,
        campaign.state,
        campaign.confirmed_count,
        campaign.goal,
        campaign.won_at,
        campaign.picture,
        campaign.picture_alt,
        brand.name if brand is not None else None,
    )


def register(app) -> None:
    """Give ``app`` its cards (``CARD_CACHE_SIZE`` of them; 0 renders every card anew) and
    the template global ``campaign_card``."""
    app.extensions["campaign_cards"] = LruCache(app.config["CARD_CACHE_SIZE"])
    app.jinja_env.globals["campaign_card"] = campaign_card


def _render(campaign) -> tuple[str, str, str]:
    """The card's HTML before the title, between title and summary, and after the summary."""
    macro = get_template_attribute("_macros.html", "campaign_card_html")
    html = str(macro(campaign, title=_TITLE, summary=_SUMMARY))
    head, found_title, rest = html.partition(_TITLE)
    middle, found_summary, tail = rest.partition(_SUMMARY)
    if not (found_title and found_summary):
        raise RuntimeError("campaign_card_html must show its title and summary arguments once each")
    return head, middle, tail


def campaign_card(campaign, title: Markup | None = None, summary: Markup | None = None) -> Markup:
    """The card of ``campaign`` (``title`` and ``summary`` in place of its own, e.g. with the
    words a search found marked). Renders it once per :func:`card_key` in this process."""
    cards: LruCache = current_app.extensions["campaign_cards"]
    key = card_key(campaign)
    parts = cards.get(key)
    if parts is None:
        parts = _render(campaign)
        if cards.size > 0:
            cards.put(key, parts)
    head, middle, tail = parts
    # Joined as plain strings: adding a str to a Markup would escape the str.
    title_html = str(title or escape(campaign.title))
    summary_html = str(summary or escape(campaign.summary))
    return Markup("".join((head, title_html, middle, summary_html, tail)))
