"""Text search over campaigns, shared by the browse page and the API."""

from __future__ import annotations

from sqlalchemy import Select, or_

from campaign.models import Campaign


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with ``%``, ``_`` and ``\\`` in ``text`` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching_text(stmt: Select, query: str) -> Select:
    """Narrow ``stmt`` to campaigns whose title or summary contains ``query`` (any case).

    ``%`` and ``_`` in the query are matched literally.
    """
    pattern = like_pattern(query)
    return stmt.where(or_(Campaign.title.ilike(pattern, escape="\\"),
                          Campaign.summary.ilike(pattern, escape="\\")))


MAX_PAGE = 10_000


def page_number() -> int:
    """The ``page`` query argument, clamped to 1..MAX_PAGE (junk reads as 1)."""
    from flask import request

    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
