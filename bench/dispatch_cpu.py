"""The confirmation dispatcher's CPU per email, in one process: ``python -m bench.dispatch_cpu``.

    python -m bench.dispatch_cpu                  # 1,000 emails, the sink without and with PIPELINING
    python -m bench.dispatch_cpu --emails 2000 --rounds 5 --profile 20

Starts PostgreSQL, Redis and the SMTP sink (another process) as the bench does, configured as
production is. Then, for each round, each shape of the sink and each way of rendering (each
campaign's email rendered once per language with blanks and filled in for each reader, the
default; and each email rendered for its reader alone), it inserts ``--emails`` pending
supports owed their confirmation email (one in four in Spanish, one in eight with a name that
is not ASCII and needs escaping, each typed from an IP of its own, spread over
``--campaigns`` petitions) in one statement and runs
:func:`campaign.jobs.supports.dispatch_confirmations` in this process until none is owed
(batches of ``CONFIRMATION_BATCH`` over one SMTP connection). Reported: this process's
CPU time per email (``time.process_time``: the claims, the caps script, rendering, building
and sending the messages, the receipts; not PostgreSQL's, Redis's or the sink's), PostgreSQL's
and Redis's CPU time per email (their servers' processes), the wall
time (with the dispatcher's 0.2 s for a batch to gather, and the second it then stays idle
before it stops, ``CONFIRMATION_DISPATCH_SECONDS``) and the messages the sink counted.
CPU time holds on a shared machine where rates do not. A warm-up run (templates compiled)
is not counted.

``--profile SECONDS`` then samples this process with py-spy for that long while it sends
confirmations the default way (the sink offering PIPELINING, unless ``--profile-pipelining
off``), and prints where the time went;
the raw stacks are kept in ``bench/results/profiles/dispatch-cpu-0.txt``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from pathlib import Path

from sqlalchemy import insert

from bench.scenarios import CpuMeter
from bench.stack import Stack

WAYS = ("blanks", "one by one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200, help="CONFIRMATION_BATCH (a surge's are smaller)")
    parser.add_argument("--campaigns", type=int, default=1, help="petitions the supports are spread over")
    parser.add_argument("--profile", type=float, default=0, help="seconds of py-spy after the rounds")
    parser.add_argument(
        "--profile-pipelining", choices=("on", "off"), default="on", help="the sink's shape while profiled"
    )
    args = parser.parse_args()
    with Stack() as stack:
        stack.app_in_this_process(SWEEP_AFTER_SECONDS=str(7 * 86400), CONFIRMATION_BATCH=str(args.batch))
        from bench import seed
        from campaign import create_app

        app = create_app()
        with app.app_context():
            names = [f"dispatch-{n}" for n in range(args.campaigns)]
            campaigns = seed.seed_base(dict.fromkeys(names, 1_000_000)).ids
            campaign_ids = [campaigns[name] for name in names]
            results = {(shape, way): [] for shape in ("off", "on") for way in WAYS}
            for way in WAYS:
                _owe(campaign_ids, 20, f"warm{way}")
                _send_all(one_by_one=way != "blanks")
            for n in range(args.rounds):
                for shape in ("off", "on"):
                    stack.sink_command(f"pipelining {shape}")
                    for way in WAYS:
                        stack.sink_command("reset")
                        _owe(campaign_ids, args.emails, f"r{n}{shape}{way}")
                        meter = CpuMeter(
                            {
                                "postgres": [pid] if (pid := stack.postgres_pid()) else [],
                                "redis": [proc.popen.pid for proc in stack.procs if proc.name == "redis"],
                            }
                        )
                        cpu, wall, sent = _send_all(one_by_one=way != "blanks")
                        servers = meter.cores(1.0)  # cores over 1 s: CPU seconds
                        postgres, redis = servers.get("postgres", 0.0), servers.get("redis", 0.0)
                        taken = stack.sink_command("stats")["messages"]
                        assert sent == taken == args.emails, (sent, taken)
                        results[shape, way].append(
                            (
                                cpu / sent * 1000,
                                wall / sent * 1000,
                                postgres / sent * 1000,
                                redis / sent * 1000,
                            )
                        )
                        print(
                            f"round {n + 1}, pipelining {shape}, {way}: {sent} emails, "
                            f"{cpu / sent * 1000:.3f} ms CPU and {wall / sent * 1000:.3f} ms wall per email"
                            f" (PostgreSQL {postgres / sent * 1000:.3f} ms,"
                            f" Redis {redis / sent * 1000:.3f} ms)",
                            flush=True,
                        )
            summary = {
                f"pipelining {shape}, {way}": {
                    "cpu_ms_per_email_median": round(statistics.median(c for c, *_ in runs), 3),
                    "cpu_ms_per_email_range": [
                        round(min(c for c, *_ in runs), 3),
                        round(max(c for c, *_ in runs), 3),
                    ],
                    "wall_ms_per_email_median": round(statistics.median(w for _, w, *_ in runs), 3),
                    "postgres_cpu_ms_per_email_median": round(statistics.median(p for _, _, p, _ in runs), 3),
                    "redis_cpu_ms_per_email_median": round(statistics.median(r for *_, r in runs), 3),
                }
                for (shape, way), runs in results.items()
            }
            summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(summary))
            if args.profile:
                stack.sink_command(f"pipelining {args.profile_pipelining}")
                _profile(campaign_ids, args.emails, args.profile)


_addresses = itertools.count(0, 1 << 16)  # each call's addresses after the last's (up to 65,536)


def _address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _owe(campaign_ids: list[int], count: int, prefix: str) -> None:
    """``count`` pending supports owed their confirmation email, spread over
    ``campaign_ids``, inserted in one statement, and their emails owed in another."""
    from campaign.extensions import db
    from campaign.models import ConfirmationOwed, Support, utcnow

    now = utcnow()
    first = next(_addresses)
    rows = [
        {
            "campaign_id": campaign_ids[i % len(campaign_ids)],
            "name": f"Zoë & <Ana> Peña {i}" if i % 8 == 5 else f"Supporter {i}",
            "email": f"{prefix}.{i}@bench.example",
            "email_canonical": f"{prefix}.{i}@bench.example",
            "country": "GB",
            "locale": "es" if i % 4 == 3 else None,
            "ip_address": _address(first + i),  # one each, as the surge's supporters
            "confirmation_sends": 1,
        }
        for i in range(count)
    ]
    ids = db.session.execute(insert(Support).returning(Support.id), rows).scalars().all()
    db.session.execute(insert(ConfirmationOwed), [{"support_id": i, "owed_at": now} for i in ids])
    db.session.commit()


def _send_all(one_by_one: bool = False) -> tuple[float, float, int]:
    """Run the dispatcher until nothing is owed (its run's one connection, its batches, its
    0.2 s for a batch to gather in the wall time): (CPU seconds, wall seconds, emails sent).
    ``one_by_one``: each email rendered for its reader alone (the way before)."""
    from campaign.jobs import supports

    emails = supports.confirmation_emails
    if one_by_one:
        supports.confirmation_emails = lambda rows, keys: emails(rows, keys, one_by_one=True)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        sent = supports.dispatch_confirmations("bench")
        return time.process_time() - cpu, time.perf_counter() - wall, sent
    finally:
        supports.confirmation_emails = emails


def _profile(campaign_ids: list[int], emails: int, seconds: float) -> None:
    from bench import profiling

    out_dir = Path(__file__).resolve().parent / "results" / "profiles"
    # Not its children: the SMTP sink is one of them.
    recorders = profiling.start([os.getpid()], seconds, out_dir, "dispatch-cpu", subprocesses=False)
    if not recorders:
        print("py-spy is not installed")
        return
    n = 0
    while recorders[0][0].poll() is None:
        _owe(campaign_ids, emails, f"profile{n}")
        _send_all()
        n += 1
    summary = profiling.finish(recorders)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
