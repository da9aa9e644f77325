"""Integers taken from URLs, bounded to what an id column can hold.

Ids are 32-bit integers in the database: a larger number in a path or query string must
read as "no such thing", not reach the database (where SQLite and PostgreSQL refuse it with
an error).
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:…>`` for the whole app: 0..ID_MAX, anything else does not match (404)."""

    def __init__(
        self,
        map,
        fixed_digits: int = 0,
        min: int | None = 0,  # noqa: A002
        max: int | None = ID_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def id_arg(raw: str) -> int:
    """An id read from a query string or form (``type=id_arg``); ValueError outside 1..ID_MAX."""
    value = int(raw)
    if not 1 <= value <= ID_MAX:
        raise ValueError(f"{value} is not an id")
    return value


def register_converters(app) -> None:
    app.url_map.converters["int"] = IdConverter
