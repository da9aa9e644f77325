"""What a supporter's name may be: a name, not a message.

Names are shown on campaign pages, written into emails and delivered to brands, so a "name"
that is a link, an email address, a phone number or a spreadsheet formula is refused.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

_FORMULA_START = ("=", "+", "-", "@")
_DOMAIN_LIKE = re.compile(r"(?:[A-Za-z0-9-]{2,}\.)+[a-z]{2,}(?![A-Za-z])")
_SCHEME_OR_WWW = re.compile(r"[a-z][a-z0-9+.-]*://|\bwww\.", re.IGNORECASE)
# A run of digits with the spaces, dots, dashes and brackets phone numbers are written with.
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s().-]*\d")

FORMULA = _l("A name cannot start with =, +, - or @.")
NOT_A_NAME = _l("Enter your name only: no link, email address or phone number.")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a supporter's name, or None if it can."""
    text = name.strip()
    if text.startswith(_FORMULA_START):
        return str(FORMULA)
    if (
        "@" in text
        or _SCHEME_OR_WWW.search(text)
        or _DOMAIN_LIKE.search(text)
        or any(sum(c.isdigit() for c in run) >= 7 for run in _PHONE_LIKE.findall(text))
    ):
        return str(NOT_A_NAME)
    return None
