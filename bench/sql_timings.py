"""Single-client timings of the search and browse SQL, from PostgreSQL's own
``EXPLAIN (ANALYZE)``: the time the server spent on each statement, one at a time. On a
machine shared with other work these move far less than latencies under load do.
"""

from __future__ import annotations

import re
import statistics

from sqlalchemy import text

_TIME = re.compile(r"(?:Planning|Execution) Time: ([0-9.]+) ms")


def _literal_sql(statement, engine) -> str:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    return sql.replace("%%", "%")  # literal binds double a % for the driver's format


def execution_ms(db, statement, params: dict | None = None) -> float:
    """Milliseconds PostgreSQL took to plan and run ``statement`` (EXPLAIN ANALYZE; rolled
    back). A text statement takes its ``params``; any other is rendered with its values."""
    if params is not None:
        explain = text("EXPLAIN (ANALYZE) " + statement.text).bindparams(*statement._bindparams.values())
        plan = db.session.execute(explain, params).scalars().all()
    else:
        plan = (
            db.session.execute(text("EXPLAIN (ANALYZE) " + _literal_sql(statement, db.engine)))
            .scalars()
            .all()
        )
    db.session.rollback()
    return sum(float(m.group(1)) for line in plan if (m := _TIME.search(line)))


def page_statements(db, filters, per_page: int):
    """The statements the first page of ``filters`` runs, as the app builds them, with their
    parameters (None: in the statement): the page as typed, then, when it shows too few
    matches, the typo check (when the query has words it checks) and the page as corrected
    (see ``campaign.search.browse_page``)."""
    from dataclasses import replace

    from sqlalchemy.orm import joinedload

    from campaign import search
    from campaign.models import Campaign

    def page(statement):
        return statement.options(joinedload(Campaign.target_brand)).limit(per_page + 1)

    filters = replace(filters, corrected=None)
    typed = page(search.campaigns_statement(filters, window=per_page + 1, typos=False))
    statements = [(typed, None)]
    rows = db.session.execute(typed).unique().scalars().all()
    found = search.Page(items=rows[:per_page], page=1, has_next=len(rows) > per_page)
    parsed = search.parse_query(filters.query)
    words = sorted(
        {w for group in parsed.groups for t in group if len(t) == 1 for w in t if len(w) >= 3 and w.isalpha()}
    )
    if words and search._too_few(found, per_page) and db.engine.dialect.name == "postgresql":
        statements.append((search._TYPOS, search.typo_parameters(filters.query, words)))
        corrected = search.campaigns_statement(filters, window=per_page + 1)
        if filters.corrected:
            statements.append((page(corrected), None))
    db.session.rollback()
    return statements


def page_ms(db, filters, per_page: int, runs: int = 5) -> float:
    """The median over ``runs`` of the server time of one page (its statements summed)."""
    times = [sum(execution_ms(db, *s) for s in page_statements(db, filters, per_page)) for _ in range(runs)]
    return round(statistics.median(times), 3)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }
