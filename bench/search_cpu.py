"""The search page's time in one process, one search at a time: ``python -m bench.search_cpu``.

    python -m bench.search_cpu                        # 100,000 campaigns, 2,000 searches, twice
    python -m bench.search_cpu --campaigns 20000 --searches 500
    python -m bench.search_cpu --profile       # and where the CPU goes (cProfile, one more round)

Starts PostgreSQL, Redis and the SMTP sink as the bench does, configured as production is,
seeds public campaigns as the search scenario does (``bench.seed.bulk_campaigns``), and
opens the search page for the scenario's varied queries (``bench.seed.search_queries``)
through the whole WSGI stack (``ProxyFix``, the hot count, Flask) with Flask's test client,
one after the other: no HTTP server, no other request waiting. Reported per page: wall time
(p50, p90, p99, max), this process's CPU time, the time spent in SQL statements (from the
engine's cursor events) and the statements run; then the slowest queries. A warm-up of 200
searches is not counted. What it measures is the page's own latency, the figure the search
scenario's p99 would give with no queue and the cores free.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import statistics
import time
from urllib.parse import quote

from bench.stack import Stack


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100_000, help="public campaigns seeded")
    parser.add_argument("--searches", type=int, default=2_000, help="queries, each opened once a round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slowest", type=int, default=10, help="slowest searches listed")
    parser.add_argument("--profile", action="store_true", help="cProfile one more round (CPU time)")
    parser.add_argument("--top", type=int, default=40, help="functions listed per profile")
    args = parser.parse_args()
    with Stack() as stack:
        stack.app_in_this_process()
        from sqlalchemy import event
        from sqlalchemy.orm import configure_mappers

        from bench import seed
        from campaign import create_app
        from campaign.extensions import db

        app = create_app()
        configure_mappers()
        with app.app_context():
            campaigns = seed.seed_base({"sign": 1_000})
            seconds = seed.bulk_campaigns(campaigns.organiser_id, args.campaigns)
            seed.vacuum_analyze()
            engine = db.engine
        print(f"{args.campaigns:,} campaigns seeded in {seconds:.1f} s")
        sql = {"statements": 0, "seconds": 0.0}

        @event.listens_for(engine, "before_cursor_execute")
        def started(conn, _cursor, _statement, _parameters, _context, _many):
            conn.info["bench.started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def ended(conn, _cursor, _statement, _parameters, _context, _many):
            sql["statements"] += 1
            sql["seconds"] += time.perf_counter() - conn.info.pop("bench.started")

        queries = seed.search_queries(args.searches)
        client = app.test_client()
        gc.collect()
        gc.freeze()

        def one_round(label: str, batch: list[str]) -> dict:
            walls, cpus, sqls, statements = [], [], [], []
            for query in batch:
                sql.update(statements=0, seconds=0.0)
                wall, cpu = time.perf_counter(), time.process_time()
                response = client.get(f"/campaigns/?q={quote(query)}")
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
                sqls.append(sql["seconds"] * 1000)
                statements.append(sql["statements"])
                assert response.status_code == 200, (response.status_code, query)
            result = {
                "round": label,
                "searches": len(batch),
                "wall_ms": {k: percentile(walls, s) for k, s in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))},
                "wall_max_ms": round(max(walls), 2),
                "cpu_ms": {k: percentile(cpus, s) for k, s in (("p50", 0.5), ("p99", 0.99))},
                "sql_ms": {k: percentile(sqls, s) for k, s in (("p50", 0.5), ("p99", 0.99))},
                "statements_mean": round(statistics.mean(statements), 2),
            }
            print(json.dumps(result))
            return {"walls": walls, "sqls": sqls}

        one_round("warm", queries[:200])
        for n in range(args.rounds):
            last = one_round(f"r{n + 1}", queries)
        slowest = sorted(zip(last["walls"], last["sqls"], queries, strict=True), reverse=True)
        print("slowest searches of the last round (wall ms, SQL ms, query):")
        for wall, spent, query in slowest[: args.slowest]:
            print(f"  {wall:7.1f}  {spent:6.1f}  {query!r}")
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU: waiting on PostgreSQL is free
            profiler.enable()
            one_round("profile", queries)
            profiler.disable()
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
                print(f"--- by {order} ({len(queries)} searches)\n{out.getvalue()}")


if __name__ == "__main__":
    main()
