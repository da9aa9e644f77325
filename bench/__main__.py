"""``python -m bench``: run the benchmark suite, print the table, write the JSON.

    python -m bench                      # the full run (about 10 to 15 minutes on 2 cores)
    python -m bench --smoke              # a few seconds per scenario (the test suite runs it)
    python -m bench --only surge,watching --workers 2 --threads 4
    python -m bench --profile all        # profile every scenario, not only those that miss

Environment: ``BENCH_DATABASE_URL`` names a PostgreSQL server to use instead of the embedded
one (the bench creates, and first drops, its database ``groundswell_bench`` there).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from pathlib import Path

from bench import report
from bench.stack import Stack

#: Kept in step with bench.scenarios.SCENARIOS, which this module imports only once the run's
#: copy of the code exists (see main()).
SCENARIOS = (
    "surge",
    "confirmation",
    "surge-end-to-end",
    "watching",
    "size",
    "search",
    "delivery",
    "fanout",
    "exactness",
)

RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, a few seconds per scenario (checks the harness works)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the JSON results (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios to run, of: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (skips the calibration)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker")
    parser.add_argument(
        "--worker-class",
        help="gunicorn worker classes to choose among by measurement, comma-separated, of: "
        "sync, gthread, gevent (default: all three, or as --threads says with --workers)",
    )
    parser.add_argument("--fanout-workers", type=int, help="RQ worker processes for the fan-out")
    parser.add_argument("--supports", type=int, help="supports of the big petition (default 1,000,000)")
    parser.add_argument(
        "--profile",
        choices=("auto", "off", "all"),
        default=None,
        help="profile with py-spy: scenarios that miss a target (auto, the full "
        "run's default), none (off, the smoke run's default) or all",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (logs, database) after the run"
    )
    return parser.parse_args(argv)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if "confirmation" in only and "surge" not in only:
        only.insert(0, "surge")  # confirmation opens the surge's links
    # SIGTERM (a CI timeout, say) stops everything we started, like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with Stack(keep=args.keep, log=print) as stack:
            # Every process of the run, this one included, uses the copy of the code the
            # stack took: an edit during a run cannot mix two versions of the app.
            sys.path.insert(0, str(stack.app_root))
            return run(args, stack, only)
    except KeyboardInterrupt:
        print("Interrupted: everything the bench started is stopped.", flush=True)
        return 130


def run(args: argparse.Namespace, stack: Stack, only: list[str]) -> int:
    from bench.scenarios import FULL, SMOKE, Bench, sizes_with
    from bench.scenarios import SCENARIOS as ORDER

    assert ORDER == SCENARIOS
    sizes = SMOKE if args.smoke else FULL
    sizes = sizes_with(sizes, fanout_workers=args.fanout_workers, big_supports=args.supports)
    if args.workers:
        sizes = sizes_with(sizes, workers=args.workers, threads=args.threads or 1, calibrate=False)
        if not args.worker_class:
            sizes = sizes_with(sizes, worker_classes=())
    if args.worker_class:
        classes = tuple(c.strip() for c in args.worker_class.split(",") if c.strip())
        unknown = set(classes) - {"sync", "gthread", "gevent"}
        if unknown:
            print(f"unknown worker classes: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        sizes = sizes_with(sizes, worker_classes=classes)
    profile = args.profile or ("off" if args.smoke else "auto")
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", flush=True)

    stack.log = log
    bench = Bench(sizes, stack, args.out.parent, profile=profile, log=log)
    results = bench.results
    failed = []
    try:
        bench.setup()
        bench.choose_gunicorn()
        bench.warm_up()
        for name in (s for s in SCENARIOS if s in only):
            try:
                results["scenarios"][name] = getattr(bench, name.replace("-", "_"))()
            except Exception as exc:  # noqa: BLE001 - report it, run the others
                bench.db.session.rollback()
                failed.append(name)
                results["scenarios"][name] = {
                    "title": name,
                    "error": repr(exc),
                    "traceback": traceback.format_exc()[-4000:],
                }
                log(f"  {name} failed: {exc!r}")
            report.write(results, args.out)
    except Exception:
        log(traceback.format_exc())
        log(f"Logs: {stack.logs}" if args.keep else "Run again with --keep to keep the logs.")
        return 1
    finally:
        if args.keep:
            log(f"Kept: {stack.dir}")
    results["seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = report.summary(results)
    report.write(results, args.out)
    print("\n" + report.table(results) + "\n", flush=True)
    seeding = results.get("seeding")
    if seeding:
        print(
            f"Seeding: {seeding['supports']:,} supports in {seeding['seconds']} s "
            f"({seeding['rows_per_s']:,} rows/s, {seeding['method']})."
        )
    gun = results.get("gunicorn", {})
    print(
        f"gunicorn: {gun.get('worker_class')}, {gun.get('workers')} workers × {gun.get('threads')} "
        f"threads ({gun.get('chosen_by')})."
    )
    summary = results["summary"]
    print(
        f"Targets met: {summary['met']} of {summary['targets']}."
        + (f" Missed: {'; '.join(summary['missed'])}." if summary["missed"] else "")
    )
    print(f"Results: {args.out} ({results['seconds']:.0f} s in all)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
