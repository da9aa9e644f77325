"""Throughput through the load balancer with 1, 2 and 3 app hosts, and replica lag under the
signing surge (``make cluster-bench``; root). On one machine the app hosts share its cores,
so the figures say how the topology behaves, not what three machines would serve: read the
ratio to one host next to the machine's core count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from bench import loadgen
from bench.cluster.topology import Cluster, address


def _sample_lag(cluster: Cluster, stop: threading.Event, samples: list[float]) -> None:
    from sqlalchemy import create_engine

    from campaign.replica import replica_lag

    engine = create_engine(
        cluster.env["DATABASE_REPLICA_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    )
    while not stop.is_set():
        try:
            lag = replica_lag(engine)
            if lag is not None:
                samples.append(lag)
        except Exception:  # noqa: BLE001 - a sample missed is not a figure
            pass
        time.sleep(0.1)
    engine.dispose()


def measure(seconds: float, supporters_per_round: int, out: Path | None, log=print) -> dict:
    cluster = Cluster(log=log)
    figures: dict = {"cores": os.cpu_count(), "rounds": []}
    try:
        cluster.start()
        os.environ.update(cluster.env)
        from bench import seed, supporters
        from campaign import create_app

        app = create_app()
        with app.app_context():
            campaigns = seed.seed_base({"surge": 1_000_000})
            slug = campaigns.slugs["surge"]
            scratch = cluster.dir / "load"
            scratch.mkdir()
            first = 0
            for hosts in (1, 2, 3):
                cluster.set_backends(cluster.apps[:hosts])
                requests = scratch / f"sign-{hosts}.tsv"
                rows = []
                for r in supporters.sign_requests(
                    app, slug, f"tp{hosts}", supporters_per_round, first, f"http://{address('lb')}"
                ):
                    r[3]["Host"] = address("lb")
                    rows.append(r)
                first += supporters_per_round
                loadgen.write_requests(requests, rows)
                lags: list[float] = []
                stop = threading.Event()
                sampler = threading.Thread(target=_sample_lag, args=(cluster, stop, lags))
                sampler.start()
                sign = loadgen.run(
                    cluster.url,
                    seconds=seconds,
                    connections=16,
                    threads=2,
                    requests_file=requests,
                    expected=(303,),
                )
                stop.set()
                sampler.join()
                page_requests = scratch / f"page-{hosts}.tsv"
                loadgen.write_requests(
                    page_requests, [("GET", f"/petitions/{slug}", "", {"Host": address("lb")})] * 200_000
                )
                page = loadgen.run(
                    cluster.url, seconds=seconds, connections=16, threads=2, requests_file=page_requests
                )
                row = {
                    "app hosts": hosts,
                    "sign per s": round(sign.rate, 1),
                    "sign errors": sign.errors,
                    "sign p99 ms": sign.latency_ms["p99"],
                    "page per s": round(page.rate, 1),
                    "page errors": page.errors,
                    "replica lag max s": round(max(lags), 3) if lags else None,
                    "replica lag p50 s": round(sorted(lags)[len(lags) // 2], 3) if lags else None,
                }
                figures["rounds"].append(row)
                log(json.dumps(row))
            base = figures["rounds"][0]
            for row in figures["rounds"]:
                row["sign ratio to 1 host"] = round(row["sign per s"] / base["sign per s"], 2)
                row["page ratio to 1 host"] = round(row["page per s"] / base["page per s"], 2)
    finally:
        cluster.stop()
    if out:
        out.write_text(json.dumps(figures, indent=1))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--supporters",
        type=int,
        default=6000,
        help="prepared signatures per round (a round ends when they run out)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    figures = measure(args.seconds, args.supporters, args.out)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
