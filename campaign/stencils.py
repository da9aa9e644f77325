"""An email rendered once for many readers, with blanks where each reader's own values go.

A batch's emails in one language differ only in a few values of each reader (their name,
their signed links, the code in their share links). :class:`Blanks` gives each such value a
marker unique to one render (letters, digits and underscores, which HTML escaping, URL
quoting and the ``%`` of a translated string leave whole); the email's templates are rendered once
with the markers in a reader's place (:class:`StandIn` stands for the reader), and each
reader's email is that render with the markers replaced by their values
(:meth:`Stencil.fill`): as they are in the text part, HTML-escaped in the HTML part, as
Jinja's autoescape writes them. Headers are never filled in: the caller builds each reader's
own (their address, their ``List-Unsubscribe``), so folding and encoding are theirs.

A render is only used where replacing its markers gives what rendering for the reader gives:
a marker a template changed (cut, cased), a reader's value that is empty (a test of it would
have gone the other way) or anything else of the reader read in the render refuses it, and
the caller renders those emails one by one. The caller proves each render before using it
(a reader made up to need escaping, rendered alone and filled in, must come out the same).
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import escape

from campaign.sharing import coded_share_kit, referral_code

log = logging.getLogger(__name__)

#: A made-up reader whose values need escaping in HTML (the proof of a render with blanks).
PROBE_NAME = 'Zoë & "Ana" <O\'Brien>  Peña'
PROBE_ID = 987_654_321
#: the start of each of the made-up reader's links (the link's name follows)
PROBE_URL = "https://probe.invalid/?a=1&b=<é>\"'#"


class NotBlank(Exception):
    """A render with blanks read something of the reader that is neither a blank nor the same
    for every reader it stands for: it cannot stand for their renders."""


class Blanks:
    """The markers of one render: ``blanks("name")`` is where each reader's ``name`` goes
    (a name is lower-case letters and underscores)."""

    def __init__(self) -> None:
        self.nonce = "z" + secrets.token_hex(8)
        self._pattern = re.compile(f"{self.nonce}([a-z_]+){self.nonce}")

    def __call__(self, name: str) -> str:
        return f"{self.nonce}{name}{self.nonce}"

    def seen_in(self, rendered: str) -> bool:
        """Whether any trace of these markers is in ``rendered``."""
        return self.nonce in rendered.lower()

    def stencil(self, text: str, html: str) -> Stencil | None:
        """The email rendered as ``text`` and ``html`` with these markers, to be filled in;
        None if a marker came out changed, which replacing it cannot redo."""
        parts = []
        for rendered in (text, html):
            split = self._pattern.split(rendered)
            # Each trace of a marker must be a whole marker (two nonces each), in any case.
            if rendered.lower().count(self.nonce) != len(split) - 1:
                return None
            parts.append(split)
        return Stencil(*parts)


class Stencil:
    """An email's text and HTML rendered with blanks, split at them: literal text at even
    positions, a blank's name at odd ones."""

    __slots__ = ("html", "html_names", "names", "text")

    def __init__(self, text: list[str], html: list[str]) -> None:
        self.text = text
        self.html = html
        #: the blanks of the HTML, each once (a share code stands in every share link)
        self.html_names = frozenset(html[1::2])
        #: the blanks this render has (the values :meth:`fill` needs)
        self.names = frozenset(text[1::2]) | self.html_names

    def fill(self, values: Mapping[str, str]) -> tuple[str, str] | None:
        """The text and the HTML with each blank replaced by its value in ``values``, as it is
        in the text and HTML-escaped in the HTML; None if a value is empty (the render tested
        a marker, which is never empty: the reader's own render may go another way)."""
        if not all(values[name] for name in self.names):
            return None
        escaped = {name: str(escape(values[name])) for name in self.html_names}
        return _joined(self.text, values), _joined(self.html, escaped)


def _joined(parts: list[str], values: Mapping[str, str]) -> str:
    out = parts.copy()
    out[1::2] = [values[name] for name in parts[1::2]]
    return "".join(out)


class StandIn:
    """Stands for each reader of a group in a render with blanks: its attribute ``a`` is the
    marker ``blanks(prefix + a)`` when ``a`` is one of ``blank``, the group's value when ``a``
    is in ``same``; reading any other raises :class:`NotBlank`."""

    def __init__(self, blanks: Blanks, prefix: str, blank: tuple[str, ...], same: Mapping[str, Any]) -> None:
        self._values = {**{name: blanks(prefix + name) for name in blank}, **same}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # protocols probed (__html__...): the object has none
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise NotBlank(name) from None


def support_stand_in(blanks: Blanks, same: Mapping[str, Any] | None = None) -> StandIn:
    """The stand-in for each support of a group: its ``name`` and ``id`` are blanks
    (``support_name``, ``support_id``), the values in ``same`` the group's."""
    return StandIn(blanks, "support_", ("name", "id"), same or {})


def share_kit_with_blanks(blanks: Blanks, kit: Callable[..., dict]) -> Callable[..., dict]:
    """``kit`` (:func:`campaign.sharing.share_kit`) for a render with blanks: the kit of the
    support's stand-in carries the blank of its referral code (``share_code``)."""
    return functools.partial(_share_kit_with_blanks, blanks, kit)


def _share_kit_with_blanks(blanks: Blanks, kit, url: str, title: str, support_id=None) -> dict:
    if support_id == blanks("support_id"):
        return coded_share_kit(url, title, blanks("share_code"))
    return kit(url, title, support_id)


def support_values(names: frozenset[str], support: Any, links: Mapping[str, str | None]) -> dict[str, str]:
    """The values of the blanks ``names`` (a :class:`Stencil`'s) for ``support``: its name, its
    id, its referral code, and its own links (``links``, by name)."""
    values = {}
    for name in names:
        if name == "support_name":
            values[name] = support.name
        elif name == "support_id":
            values[name] = str(support.id)
        elif name == "share_code":
            values[name] = referral_code(support.id)
        else:
            values[name] = links[name]
    return values


def probe_links(links: Mapping[str, str | None]) -> dict[str, str | None]:
    """The made-up reader's links, of the kinds ``links`` has (None stays None)."""
    return {name: None if value is None else PROBE_URL + name for name, value in links.items()}


def proven(
    blanks: Blanks, rendered: tuple[str, str], alone: tuple[str, str], values: Callable[[Stencil], Mapping]
) -> Stencil:
    """The stencil of ``rendered`` (the text and HTML rendered with ``blanks``), proven:
    ``alone`` is the email rendered for a made-up reader, and filling the stencil in with
    that reader's ``values(stencil)`` must give it. Raises :class:`NotBlank` otherwise (a
    marker changed by a template, or a filter or a test applied to a reader's value)."""
    stencil = blanks.stencil(*rendered)
    if stencil is None:
        raise NotBlank("a marker changed by a template")
    if stencil.fill(values(stencil)) != alone:
        raise NotBlank("the proof")
    return stencil


#: templates whose render with blanks was refused, told once in the log
_REFUSED: set[str] = set()


def refused(template: str, reason: Exception) -> None:
    """Tell the log, once per template, that its emails are rendered one by one, and why."""
    if template not in _REFUSED:
        _REFUSED.add(template)
        log.warning("%s: no render with blanks (%r); its emails are rendered one by one", template, reason)
