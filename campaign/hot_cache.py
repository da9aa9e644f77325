"""A per-process cache of about a second for what a surge reads thousands of times a second.

A campaign going viral is read far more than it changes: its ``count.json`` polled, its
page refreshed, its row loaded for every signature. Each web process keeps what it read for
``HOT_CACHE_SECONDS`` (1 by default; 0 turns it off, as the tests do unless they test it),
so a hot read costs one query a second per process instead of one per request. When a value
expires, one thread computes it again while the process's other threads go on answering
with the value before it (they would otherwise all compute it at once: a big campaign's page
rendered by every waiting request). What it holds may so be a second old, two while its next
value is computed: counts and pages, and whether any allow or block rule exists (the first
rule a moderator adds applies within two seconds). Whether a support is
stored, and once only, is still decided by the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app

#: Entries kept at most; past this the cache is cleared (a crude bound on memory).
MAX_ENTRIES = 10_000

_MISSING = object()


class HotCache:
    """A dict of values that expire; safe across threads (a lost race recomputes once)."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._computing: set[Hashable] = set()

    def get_or_set(self, key: Hashable, compute: Callable[[], Any], seconds: float) -> Any:
        """``compute()``'s value for ``key``, computed at most once per ``seconds``; while
        one thread computes an expired value again, the others get the one before it (so at
        most twice ``seconds`` old)."""
        if seconds <= 0:
            return compute()
        hit = self._entries.get(key, _MISSING)
        if hit is not _MISSING:
            now = time.monotonic()
            if hit[0] > now:
                return hit[1]
            # Being computed: the value before it, if it expired at most ``seconds`` ago (one
            # kept from long ago, say a process idle for an hour, is computed again).
            if key in self._computing and hit[0] + seconds > now:
                return hit[1]
        self._computing.add(key)
        try:
            value = compute()
        finally:
            self._computing.discard(key)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        # Kept for ``seconds`` from when it is ready, not from when computing began: on a
        # starved machine a page taking longer than ``seconds`` to render would otherwise be
        # stored already expired, and every request would render it again (seen in the
        # bench at a load average of 13: 12 pages/s, each rendered anew).
        self._entries[key] = (time.monotonic() + seconds, value)
        return value

    def peek(self, key: Hashable) -> Any:
        """The value kept for ``key`` if it has not expired, else None (never computes)."""
        hit = self._entries.get(key, _MISSING)
        if hit is not _MISSING and hit[0] > time.monotonic():
            return hit[1]
        return None

    def clear(self) -> None:
        self._entries.clear()
        self._computing.clear()


_cache = HotCache()


def cached(key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered by this process for ``HOT_CACHE_SECONDS``."""
    return _cache.get_or_set(key, compute, current_app.config["HOT_CACHE_SECONDS"])


def peek(key: Hashable) -> Any:
    """What this process keeps for ``key`` now, or None; needs no app context (see
    :mod:`campaign.hot_count`)."""
    return _cache.peek(key)


def clear() -> None:
    """Forget everything (tests; a process that must read fresh at once)."""
    _cache.clear()
