"""The confirmation dispatcher's CPU per email, in one process: ``python -m bench.dispatch_cpu``.

    python -m bench.dispatch_cpu                  # 1,000 emails, the sink without and with PIPELINING
    python -m bench.dispatch_cpu --emails 2000 --rounds 5

Starts PostgreSQL, Redis and the SMTP sink (another process) as the bench does, configured as
production is. Then, for each round and each shape of the sink, it inserts ``--emails``
pending supports owed their confirmation email (one in four in Spanish) in one statement and
runs :func:`campaign.jobs.supports.dispatch_confirmations` in this process until none is
owed (batches of ``CONFIRMATION_BATCH`` over one SMTP connection). Reported: this process's
CPU time per email (``time.process_time``: the claims, the caps script, rendering, building
and sending the messages, the receipts; not PostgreSQL's, Redis's or the sink's), the wall
time (with the dispatcher's 0.2 s for a batch to gather) and the messages the sink counted.
CPU time holds on a shared machine where rates do not. A warm-up run (templates compiled)
is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from sqlalchemy import insert

from bench.stack import Stack, free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with Stack() as stack:
        stack.start_postgres()
        stack.start_redis()
        mail_port = stack.start_sink()
        env = stack.configure_app(mail_port, free_port())
        env["SWEEP_AFTER_SECONDS"] = str(7 * 86400)
        os.environ.update(env)
        stack.flask("db", "upgrade")
        from bench import seed
        from campaign import create_app

        app = create_app()
        with app.app_context():
            campaign_id = seed.seed_base({"dispatch": 1_000_000}).ids["dispatch"]
            results = {"off": [], "on": []}
            _owe(campaign_id, 20, "warm")
            _send_all()
            for n in range(args.rounds):
                for shape in results:
                    stack.sink_command(f"pipelining {shape}")
                    stack.sink_command("reset")
                    _owe(campaign_id, args.emails, f"r{n}{shape}")
                    cpu, wall, sent = _send_all()
                    taken = stack.sink_command("stats")["messages"]
                    assert sent == taken == args.emails, (sent, taken)
                    results[shape].append((cpu / sent * 1000, wall / sent * 1000))
                    print(
                        f"round {n + 1}, pipelining {shape}: {sent} emails, "
                        f"{cpu / sent * 1000:.2f} ms CPU and {wall / sent * 1000:.2f} ms wall per email"
                    )
            summary = {
                shape: {
                    "cpu_ms_per_email_median": round(statistics.median(c for c, _ in runs), 3),
                    "cpu_ms_per_email_range": [
                        round(min(c for c, _ in runs), 3),
                        round(max(c for c, _ in runs), 3),
                    ],
                    "wall_ms_per_email_median": round(statistics.median(w for _, w in runs), 3),
                }
                for shape, runs in results.items()
            }
            summary["load_average"] = os.getloadavg()
            print(json.dumps(summary))


def _owe(campaign_id: int, count: int, prefix: str) -> None:
    """``count`` pending supports owed their confirmation email, inserted in one statement."""
    from campaign.extensions import db
    from campaign.models import Support, utcnow

    now = utcnow()
    rows = [
        {
            "campaign_id": campaign_id,
            "name": f"Supporter {i}",
            "email": f"{prefix}.{i}@bench.example",
            "email_canonical": f"{prefix}.{i}@bench.example",
            "country": "GB",
            "locale": "es" if i % 4 == 3 else None,
            "confirmation_sends": 1,
            "confirmation_owed_at": now,
        }
        for i in range(count)
    ]
    db.session.execute(insert(Support), rows)
    db.session.commit()


def _send_all() -> tuple[float, float, int]:
    """Run the dispatcher until nothing is owed (its run's one connection, its batches, its
    0.2 s for a batch to gather in the wall time): (CPU seconds, wall seconds, emails sent)."""
    from campaign.jobs.supports import dispatch_confirmations

    cpu, wall = time.process_time(), time.perf_counter()
    sent = dispatch_confirmations("bench")
    return time.process_time() - cpu, time.perf_counter() - wall, sent


if __name__ == "__main__":
    main()
