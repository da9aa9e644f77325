"""The fan-out's CPU per email, in one process: ``python -m bench.fanout_cpu``.

    python -m bench.fanout_cpu                      # 2,000 recipients, 3 rounds
    python -m bench.fanout_cpu --recipients 5000 --rounds 5 --profile 20

Starts PostgreSQL, Redis and the SMTP sink (another process) as the bench does, configured as
production is, and seeds a petition with ``--recipients`` confirmed supporters who asked for
updates (one in four reads Spanish; one in eight has a name that is not ASCII and needs
escaping). Then, for each round, each shape of the sink (without and with PIPELINING) and
each way of rendering (each group's email rendered once with blanks and filled in for each
reader, the default; and each email rendered for its reader alone), it posts an update and
fans it out: :func:`campaign.jobs.notify.send_batch` for each of its batches, in this process.
Reported: this process's CPU time per email (``time.process_time``: loading the batch,
the claim, rendering, building and sending the messages, the mark; not PostgreSQL's,
Redis's or the sink's) and the messages the sink counted. CPU time holds on a shared
machine where rates do not. A warm-up fan-out (templates compiled) is not counted.

``--profile SECONDS`` then samples this process with py-spy for that long while it fans out
updates the default way (the sink offering PIPELINING), and prints where the time went; the
raw stacks are kept in ``bench/results/profiles/fanout-cpu-0.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from sqlalchemy import insert, select

from bench.stack import Stack

WAYS = ("blanks", "one by one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=float, default=0, help="seconds of py-spy after the rounds")
    args = parser.parse_args()
    with Stack() as stack:
        stack.app_in_this_process()
        from bench import seed
        from campaign import create_app

        app = create_app()
        with app.app_context():
            campaigns = seed.seed_base({"fanout": 1_000_000})
            campaign_id = campaigns.ids["fanout"]
            _supporters(campaign_id, args.recipients)
            _fan_out(campaigns.organiser_id, campaign_id, "warm", one_by_one=False)
            _fan_out(campaigns.organiser_id, campaign_id, "warm", one_by_one=True)
            results = {(shape, way): [] for shape in ("off", "on") for way in WAYS}
            for n in range(args.rounds):
                for shape in ("off", "on"):
                    stack.sink_command(f"pipelining {shape}")
                    for way in WAYS:
                        stack.sink_command("reset")
                        cpu, wall, sent = _fan_out(
                            campaigns.organiser_id, campaign_id, f"r{n}", one_by_one=way != "blanks"
                        )
                        taken = stack.sink_command("stats")["messages"]
                        assert sent == taken == args.recipients, (sent, taken)
                        results[shape, way].append(cpu / sent * 1000)
                        print(
                            f"round {n + 1}, pipelining {shape}, {way}: {sent} emails, "
                            f"{cpu / sent * 1000:.3f} ms CPU and {wall / sent * 1000:.3f} ms wall per email",
                            flush=True,
                        )
            summary = {
                f"pipelining {shape}, {way}": {
                    "cpu_ms_per_email_median": round(statistics.median(runs), 3),
                    "cpu_ms_per_email_range": [round(min(runs), 3), round(max(runs), 3)],
                }
                for (shape, way), runs in results.items()
            }
            summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(summary))
            if args.profile:
                stack.sink_command("pipelining on")
                _profile(campaigns.organiser_id, campaign_id, args.profile)


def _supporters(campaign_id: int, count: int) -> None:
    """``count`` confirmed supporters who asked for updates, inserted in one statement."""
    from campaign.extensions import db
    from campaign.models import Support, utcnow

    now = utcnow()
    rows = [
        {
            "campaign_id": campaign_id,
            "name": f"Zoë & <Ana> Peña {i}" if i % 8 == 5 else f"Supporter {i}",
            "email": f"fan.{i}@bench.example",
            "email_canonical": f"fan.{i}@bench.example",
            "country": "GB",
            "locale": "es" if i % 4 == 3 else None,
            "consents_to_updates": True,
            "confirmed_at": now,
        }
        for i in range(count)
    ]
    db.session.execute(insert(Support), rows)
    db.session.commit()


def _fan_out(organiser_id: int, campaign_id: int, title: str, one_by_one: bool) -> tuple[float, float, int]:
    """Post an update and send it to every supporter, batch by batch, in this process:
    (CPU seconds, wall seconds, emails sent)."""
    from campaign.extensions import db
    from campaign.jobs import notify
    from campaign.jobs.notifications import Topic
    from campaign.models import FanoutBatch, Update

    update = Update(
        campaign_id=campaign_id,
        author_id=organiser_id,
        title=f"Update {title}: the supplier list is out",
        body="Thank you **all**: the list is [published](https://northwind.example/suppliers).",
    )
    db.session.add(update)
    db.session.commit()
    emails = Topic.emails
    if one_by_one:  # the way before: each email rendered for its reader alone
        Topic.emails = lambda self, obj, supports: emails(self, obj, supports, one_by_one=True)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        notify.fan_out("update", update.id, campaign_id)
        batches = db.session.execute(
            select(FanoutBatch.first_id, FanoutBatch.last_id).filter_by(topic="update", object_id=update.id)
        ).all()
        sent = sum(notify.send_batch("update", update.id, first, last) for first, last in batches)
        return time.process_time() - cpu, time.perf_counter() - wall, sent
    finally:
        Topic.emails = emails


def _profile(organiser_id: int, campaign_id: int, seconds: float) -> None:
    from bench import profiling

    out_dir = Path(__file__).resolve().parent / "results" / "profiles"
    # Not its children: the SMTP sink is one of them.
    recorders = profiling.start([os.getpid()], seconds, out_dir, "fanout-cpu", subprocesses=False)
    if not recorders:
        print("py-spy is not installed")
        return
    n = 0
    while recorders[0][0].poll() is None:
        _fan_out(organiser_id, campaign_id, f"profile {n}", one_by_one=False)
        n += 1
    summary = profiling.finish(recorders)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
