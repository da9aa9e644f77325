"""The scenarios, each measured against the app and against the bare ceiling in the same run."""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import func, select, text

from bench import loadgen, profiling, seed, sql_timings, supporters
from bench.report import figure, ratio, target
from bench.stack import DB_NAME, Proc, Stack, free_port, wait_http

BIG = 10_000_000  # the goal of campaigns that must not reach it during a run


@dataclass(frozen=True)
class Sizes:
    """How much of everything a run does (the full run, or the smoke run of the tests)."""

    smoke: bool = False
    big_supports: int = 1_000_000
    small_supports: int = 100
    consent_every: int = 10
    surge_seconds: float = 20
    surge_pool: int = 40_000  # distinct supporters prepared for each of the app and the bare
    confirm_seconds: float = 30
    watch_seconds: float = 10
    size_seconds: float = 10
    warmup_seconds: float = 3
    calibrate: bool = True
    calibrate_seconds: float = 4
    workers: int = 0  # gunicorn workers (0: chosen by calibration)
    threads: int = 0
    # gunicorn worker classes the calibration chooses among (sync, gthread, gevent); empty:
    # sync with one thread, gthread with more, as given.
    worker_classes: tuple[str, ...] = ("sync", "gthread", "gevent")
    pool_workers: int = 2  # RQ workers always running (high, default, bulk)
    # Stopped during the scenarios that measure workers of their own (the surge, delivery,
    # fan-out); the smoke run leaves it running: each start is a process importing the app.
    pool_stops: bool = True
    fanout_workers: int = 4
    drain_timeout: float = 60  # then the confirmation emails still queued are dropped
    delivery_timeout: float = 600
    fanout_timeout: float = 900
    bare_fanout_recipients: int = 20_000  # a rate needs no more; the app sends to all
    profile_seconds: float = 8
    profile_confirmations: int = 20_000
    search_small: int = 100  # public campaigns, browse measured at this size and the next
    search_large: int = 100_000
    search_seconds: float = 5
    search_queries: int = 2_000
    search_explained: int = 400  # of those queries, each timed alone by EXPLAIN ANALYZE


FULL = Sizes()
SMOKE = Sizes(
    smoke=True,
    big_supports=2_000,
    small_supports=100,
    consent_every=40,  # 50 recipients of the goal notice
    surge_seconds=2,
    surge_pool=60,
    confirm_seconds=2,
    watch_seconds=1,
    size_seconds=1,
    warmup_seconds=1,
    calibrate=False,
    # One gunicorn worker and one pool worker: each is a process importing the app; the
    # fan-out keeps two workers, which must not send anything twice between them.
    workers=1,
    threads=4,
    worker_classes=(),
    pool_workers=1,
    pool_stops=False,
    fanout_workers=2,
    drain_timeout=60,
    delivery_timeout=60,
    fanout_timeout=60,
    profile_seconds=2,
    profile_confirmations=300,
    bare_fanout_recipients=50,
    search_small=100,
    search_large=400,
    search_seconds=1,
    search_queries=50,
    search_explained=16,
)

#: The gunicorns serving the app: their CPU is the web's.
WEB_PROCESSES = ("web", "calib-web", "web-small", "web-large")

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


class Bench:
    """One run: the stack set up and seeded, gunicorn chosen, then each scenario in turn.

    Each scenario returns its figures (app, bare ceiling, ratio, target) and its details; a
    scenario that misses a target is run again briefly under py-spy (``profile="auto"``).
    """

    def __init__(
        self,
        sizes: Sizes,
        stack: Stack,
        results_dir: Path,
        profile: str = "auto",
        log=print,
    ):
        self.sizes = sizes
        self.stack = stack
        self.results_dir = results_dir
        self.profile_mode = profile  # "auto": profile what misses a target; "off"; "all"
        self.log = log
        self.scratch = stack.dir / "requests"
        self.scratch.mkdir()
        self.pool: list[Proc] = []
        self.next_address = 0
        self.results: dict = {"meta": {}, "scenarios": {}}

    # ================================================================== setting up

    def setup(self) -> None:
        s, sizes = self.stack, self.sizes
        self.log("Starting PostgreSQL, Redis and the SMTP sink…")
        s.start_postgres()
        s.start_redis()
        self.mail_port = s.start_sink()
        self.web_port, self.bare_port = free_port(), free_port()
        env = s.configure_app(self.mail_port, self.web_port)
        # The bench drops on purpose the confirmation emails of its calibration and warm-up
        # (and those left unsent after the surge): the sweeper must not send them during the
        # scenarios that follow, as it would a lost job's in production.
        env["SWEEP_AFTER_SECONDS"] = str(7 * 86400)
        os.environ.update(env)
        migrated = s.flask_in_background("db", "upgrade")
        from campaign import create_app  # imported while the migrations run

        self.app = create_app()
        migrated()
        # The search scenario browses a small size in a database of its own, made now, while
        # nothing is connected to the bench database and it holds the schema alone.
        self.small_database_url = s.copy_database(f"{DB_NAME}_small")
        self._ctx = self.app.app_context()
        self._ctx.push()
        from campaign.extensions import db

        self.db = db
        self.log("Seeding…")
        self.campaigns = seed.seed_base(
            {
                "surge": BIG,
                "e2e": BIG,
                "bare": BIG,
                "lean": BIG,
                "calib": BIG,
                "profile": BIG,
                "small": 1_000,
                "big": sizes.big_supports,
            }
        )
        seed.bulk_supports(self.campaigns.ids["small"], "small", sizes.small_supports)
        seconds = seed.bulk_supports(
            self.campaigns.ids["big"], "big", sizes.big_supports, sizes.consent_every
        )
        started = time.perf_counter()
        seed.vacuum_analyze()
        self.results["seeding"] = {
            "supports": sizes.big_supports,
            "seconds": round(seconds, 2),
            "rows_per_s": round(sizes.big_supports / seconds),
            "vacuum_analyze_seconds": round(time.perf_counter() - started, 2),
            "method": "one COPY FROM STDIN (psycopg 3), then counts and milestones in SQL",
        }
        self.log(
            f"  {sizes.big_supports:,} supports seeded in {seconds:.1f} s "
            f"({sizes.big_supports / seconds:,.0f} rows/s)"
        )
        s.start_clock()
        self.results["meta"] = self._meta()

    def _meta(self) -> dict:
        from importlib.metadata import version

        def git(*args: str) -> str:
            # --no-optional-locks: a read that never writes the index.
            result = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
            )
            return result.stdout.strip()

        return {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "smoke" if self.sizes.smoke else "full",
            "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
            "machine": {
                "cores": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "versions": {
                **{
                    name: version(name)
                    for name in ("flask", "gunicorn", "rq", "sqlalchemy", "psycopg", "flask-limiter")
                },
                "wrk": loadgen.wrk_version(),
                **self.stack.versions,
            },
            "sizes": asdict(self.sizes),
            "load_generator": "wrk (1 thread), a separate process, over loopback; closed loop",
        }

    def start_web(self, workers: int, threads: int, worker_class: str | None = None) -> None:
        """The app, the bare ceiling and the lean prototype, each in the same gunicorn shape,
        started side by side."""
        self.workers, self.worker_class, self.web_threads = workers, worker_class, threads
        # A gevent worker serves many requests at once: count it as four threads' worth
        # when sizing the load.
        self.threads = 4 if worker_class == "gevent" else threads
        self.web = self.stack.start_web(
            "web", "wsgi:app", self.web_port, workers, threads, wait=False, worker_class=worker_class
        )
        # The lean prototype is served by the bare ceiling's server (bench.ceilings).
        self.bare = self.stack.start_web(
            "bare",
            "bench.ceilings:app",
            self.bare_port,
            workers,
            threads,
            ready_path="/bare/ping",
            worker_class=worker_class,
        )
        self.lean_port = self.bare_port
        wait_http(self.web_port, "/", self.web)

    def concurrency(self, workers: int | None = None, threads: int | None = None) -> int:
        """Connections that keep every gunicorn thread busy with one request queued behind."""
        return max(8, 2 * (workers or self.workers) * (threads or self.threads))

    def start_pool(self) -> None:
        if not self.pool:
            # Many small jobs (confirmation emails, folds, milestone notices): run in the
            # workers' own processes, as production runs them (`flask worker --no-fork`).
            self.pool = self.stack.start_workers(self.sizes.pool_workers, name="worker", fork=False)
            self.wait_for_workers(len(self.pool))

    def stop_pool(self, always: bool = False) -> None:
        """Stop the pool of workers (``always``: in the smoke run too, which keeps it otherwise)."""
        if not (self.sizes.pool_stops or always):
            return
        for proc in self.pool:
            self.stack.forget(proc)
        self.pool = []
        self.wait_for_workers(0)

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        from rq import Worker

        from campaign.queue import redis_connection

        deadline = time.monotonic() + timeout
        while True:
            alive = [w for w in Worker.all(connection=redis_connection()) if w.state != "suspended"]
            if len(alive) == count:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"expected {count} RQ workers, found {len(alive)}")
            time.sleep(0.2)

    # ================================================================== helpers

    def addresses(self, count: int) -> int:
        first = self.next_address
        self.next_address += count
        return first

    def request_file(self, name: str, requests) -> tuple[Path, int]:
        path = self.scratch / f"{name}.tsv"
        return path, loadgen.write_requests(path, requests)

    def halves(self, name: str, requests: list) -> tuple[list[Path], int]:
        """Two files of prepared requests, the first and the second half of ``requests``
        (for :meth:`alternated`), and how many there are in all."""
        middle = len(requests) // 2
        first, _ = self.request_file(f"{name}-1", requests[:middle])
        second, _ = self.request_file(f"{name}-2", requests[middle:])
        return [first, second], len(requests)

    def sign_file(self, slug: str, prefix: str, count: int) -> Path:
        return self.request_file(
            prefix,
            supporters.sign_requests(
                self.app, slug, prefix, count, self.addresses(count), f"http://127.0.0.1:{self.web_port}"
            ),
        )[0]

    def lean_sign_file(self, slug: str, prefix: str, count: int, under: str = "/lean/") -> Path:
        """The app's own sign requests (session cookie, CSRF token), sent to the lean prototype
        (``under`` ``/lean/raw/``: its signing without Flask)."""
        requests = supporters.sign_requests(
            self.app, slug, prefix, count, self.addresses(count), f"http://127.0.0.1:{self.lean_port}"
        )
        return self.request_file(
            prefix,
            (
                (method, path.replace("/petitions/", under, 1), body, headers)
                for method, path, body, headers in requests
            ),
        )[0]

    def bare_sign_file(self, slug: str, prefix: str, count: int, route: str = "support") -> Path:
        return self.request_file(
            prefix,
            supporters.bare_sign_requests(
                slug, prefix, count, self.addresses(count), f"http://127.0.0.1:{self.bare_port}", route
            ),
        )[0]

    def wrk(
        self,
        port: int,
        path: str = "/",
        *,
        seconds: float,
        connections: int | None = None,
        requests: Path | None = None,
        expected=(200,),
    ) -> loadgen.Load:
        meter = CpuMeter(self.cpu_groups())
        load = loadgen.run(
            f"http://127.0.0.1:{port}{path}",
            seconds=seconds,
            connections=connections or self.concurrency(),
            requests_file=requests,
            expected=expected,
        )
        load.extra["cores_used"] = meter.cores(load.seconds)
        load.extra["workers_cores"] = meter.workers(load.seconds)
        # The machine's 1-minute load average as the load ended: on a shared machine, what
        # else was running is part of every figure.
        load.extra["load_average"] = round(os.getloadavg()[0], 1)
        return load

    def cpu_groups(self) -> dict[str, list[int]]:
        """The process trees whose CPU time is accounted during a load (by name)."""
        groups = {
            "web": [p.pid for p in self.stack.procs if p.name in WEB_PROCESSES],
            "bare": [p.pid for p in self.stack.procs if p.name == "bare"],
            "rq workers": [p.pid for p in self.stack.procs if "worker" in p.name],
            "redis": [p.pid for p in self.stack.procs if p.name == "redis"],
            "smtp sink": [self.stack.sink.pid] if self.stack.sink else [],
            "postgres": [self.stack.postgres_pid()] if self.stack.postgres_pid() else [],
            "bench": [os.getpid()],
        }
        return {name: pids for name, pids in groups.items() if pids}

    def queue_length(self, name: str) -> int:
        from campaign.queue import get_queue

        return get_queue(name).count

    def empty_queue(self, name: str) -> None:
        from campaign.queue import get_queue

        get_queue(name).empty()

    def owed_confirmations(self, campaign: str | None = None) -> int:
        """Confirmation emails owed and not yet sent (of one campaign, or of all)."""
        from campaign.models import ConfirmationOwed, Support

        stmt = select(func.count()).select_from(ConfirmationOwed)
        if campaign is not None:
            stmt = stmt.join(Support, Support.id == ConfirmationOwed.support_id).where(
                Support.campaign_id == self.campaigns.ids[campaign]
            )
        value = self.db.session.execute(stmt).scalar_one()
        self.db.session.commit()
        return value

    def receipts(self, prefix: str = "") -> int:
        """Receipts of the emails the mail server took (of keys starting with ``prefix``):
        what a sink that keeps no message (``keep off``) is checked against, one message a
        receipt (an email sent twice is two messages to one receipt)."""
        from campaign.models import MailReceipt

        stmt = (
            select(func.count())
            .select_from(MailReceipt)
            .where(MailReceipt.sent_at.is_not(None), MailReceipt.error.is_(None))
        )
        if prefix:
            stmt = stmt.where(MailReceipt.key.startswith(prefix))
        value = self.db.session.execute(stmt).scalar_one()
        self.db.session.commit()
        return value

    def drop_confirmations(self, campaign: str | None = None) -> int:
        """Drop on purpose the confirmation emails owed (of one campaign, or all) and the
        dispatchers queued: those of the calibration, the warm-up and the profiles are no
        scenario's. Returns how many were dropped."""
        from sqlalchemy import delete

        from campaign.models import ConfirmationOwed, Support

        stmt = delete(ConfirmationOwed)
        if campaign is not None:
            stmt = stmt.where(
                ConfirmationOwed.support_id.in_(
                    select(Support.id).where(Support.campaign_id == self.campaigns.ids[campaign])
                )
            )
        else:
            self.empty_queue("high")
        dropped = self.db.session.execute(stmt).rowcount
        self.db.session.commit()
        return dropped

    def count_supports(self, campaign: str, confirmed: bool | None = None) -> int:
        from campaign.models import Support

        stmt = (
            select(func.count())
            .select_from(Support)
            .where(Support.campaign_id == self.campaigns.ids[campaign])
        )
        if confirmed is True:
            stmt = stmt.where(Support.confirmed_at.is_not(None))
        elif confirmed is False:
            stmt = stmt.where(Support.confirmed_at.is_(None))
        value = self.db.session.execute(stmt).scalar_one()
        self.db.session.commit()
        return value

    def profiled(self, run, *args, **kwargs) -> dict:
        """A profile, or the reason there is none: profiling never loses a scenario's figures."""
        try:
            return run(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.db.session.rollback()
            return {"error": repr(exc)}

    def should_profile(self, figures: list[dict]) -> bool:
        if self.profile_mode == "all":
            return True
        return self.profile_mode == "auto" and any(
            f.get("target") and not f["target"]["met"] for f in figures
        )

    def profile_web(self, name: str, path: str = "/", requests: Path | None = None, expected=(200,)) -> dict:
        """Run the app's load again with py-spy attached to gunicorn and its workers."""
        seconds = self.sizes.profile_seconds
        self.log(f"  profiling {name} with py-spy ({seconds:.0f} s)…")
        recorders = profiling.start([self.web.pid], seconds + 1, self.results_dir / "profiles", name)
        if not recorders:
            return {"error": "py-spy is not installed"}
        time.sleep(0.5)
        load = self.wrk(self.web_port, path, seconds=seconds, requests=requests, expected=expected)
        result = profiling.finish(recorders)
        result["load_while_profiled"] = load.summary()
        return result

    # ================================================================== gunicorn: by measurement

    def gunicorn_candidates(self) -> list[tuple[str, int, int]]:
        """(worker class, workers, threads) shapes to measure: each class given, with the
        workers given or 2, 3 and 4; gthread with the threads given or 2 and 4."""
        sizes = self.sizes
        classes = sizes.worker_classes or ("gthread" if (sizes.threads or 1) > 1 else "sync",)
        workers = (sizes.workers,) if sizes.workers else (2, 3, 4)
        shapes = []
        for worker_class in classes:
            if worker_class == "gthread":
                threads = (sizes.threads,) if (sizes.threads or 1) > 1 else (2, 4)
            else:
                threads = (1,)
            shapes += [(worker_class, w, t) for w in workers for t in threads]
        return shapes

    def choose_gunicorn(self) -> None:
        """The worker class, workers and threads, by measurement when there is a choice: each
        shape takes the real sign form (the surge) and then count.json (watching)."""
        sizes = self.sizes
        candidates = self.gunicorn_candidates()
        if len(candidates) == 1 or (not sizes.calibrate and not sizes.worker_classes):
            worker_class, workers, threads = candidates[0]
            self.results["gunicorn"] = {
                "worker_class": worker_class,
                "workers": workers,
                "threads": threads,
                "chosen_by": "fixed (given)" if not sizes.smoke else "fixed (smoke run)",
            }
            self.start_web(workers, threads, worker_class)
            return
        self.log("Choosing gunicorn's worker class, workers and threads by measurement…")
        count_path = f"/api/v1/campaigns/{self.campaigns.slugs['calib']}/count.json"

        def measure(worker_class: str, workers: int, threads: int, again: bool = False) -> dict:
            name = f"{worker_class}-{workers}x{threads}" + ("-again" if again else "")
            web = self.stack.start_web(
                "calib-web", "wsgi:app", self.web_port, workers, threads, worker_class=worker_class
            )
            # The same load for every class with as many workers: a closed loop of
            # connections enough for four threads each.
            conns = self.concurrency(workers, 4)
            per_trial = int(sizes.calibrate_seconds * 2_500)
            warm = self.sign_file("bench-calib", f"calib-warm-{name}", 1_000)
            self.wrk(self.web_port, seconds=1, connections=conns, requests=warm, expected=(303,))
            reqs = self.sign_file("bench-calib", f"calib-{name}", per_trial)
            load = self.wrk(
                self.web_port,
                seconds=sizes.calibrate_seconds,
                connections=conns,
                requests=reqs,
                expected=(303,),
            )
            self.wrk(self.web_port, count_path, seconds=1, connections=conns)
            count = self.wrk(
                self.web_port, count_path, seconds=sizes.calibrate_seconds / 2, connections=conns
            )
            self.stack.forget(web)
            self.log(
                f"  {worker_class}, {workers} workers × {threads} threads, {conns} connections"
                f"{' (again)' if again else ''}: "
                f"{load.rate:,.0f} signatures/s (p99 {load.latency_ms['p99']:.0f} ms, "
                f"{load.errors} errors); count.json {count.rate:,.0f}/s "
                f"(p99 {count.latency_ms['p99']:.0f} ms, {count.errors} errors)"
            )
            return {
                "worker_class": worker_class,
                "workers": workers,
                "threads": threads,
                "connections": conns,
                **load.summary(),
                "count_json": count.summary(),
            }

        trials = [measure(*shape) for shape in candidates]
        scored = _score_shapes(trials)
        # One trial of a few seconds a shape can pick the wrong one on a noisy machine (a run
        # chose three gevent workers after its trial of two gave 1,348 signatures/s where the
        # runs before gave 1,728 and 1,756): the shapes within a tenth of the best are measured
        # again, in the other order, and each is scored on the mean of its trials.
        close = [t for t in scored if t["score"] >= max(t["score"] for t in scored) - 0.1]
        again = []
        if len(close) > 1:
            again = [
                measure(t["worker_class"], t["workers"], t["threads"], again=True) for t in reversed(close)
            ]
            scored = _score_shapes(trials + again)
        self.drop_confirmations()  # the trials' confirmation emails: not part of any scenario
        best = max((t for t in scored if t["good"]), key=lambda t: t["score"], default=None) or max(
            scored, key=lambda t: t["score"]
        )
        self.results["gunicorn"] = {
            "worker_class": best["worker_class"],
            "workers": best["workers"],
            "threads": best["threads"],
            "chosen_by": "highest score (signatures/s over the best shape's, plus count.json/s "
            "over the best shape's, each the mean of the shape's trials) among shapes with sign "
            f"p99 ≤ 100 ms and no errors, {sizes.calibrate_seconds:.0f} s of signing and "
            f"{sizes.calibrate_seconds / 2:.0f} s of count.json per trial; the shapes within 0.1 "
            "of the best score measured a second time, in the other order",
            "trials": trials + again,
            "scores": scored,
        }
        self.log(f"  chosen: {best['worker_class']}, {best['workers']} workers × {best['threads']} threads")
        self.start_web(best["workers"], best["threads"], best["worker_class"])

    def warm_up(self) -> None:
        """Every endpoint of both servers, briefly, so no scenario pays for a cold start."""
        seconds = self.sizes.warmup_seconds
        self.log(f"Warming up ({seconds:g} s per endpoint)…")
        n = max(200, int(seconds * 1_500))
        self.wrk(
            self.web_port,
            seconds=seconds,
            requests=self.sign_file("bench-calib", "warm-app", n),
            expected=(303,),
        )
        self.wrk(
            self.bare_port,
            seconds=seconds,
            requests=self.bare_sign_file("bench-calib", "warm-bare", n, route="support-owed"),
            expected=(303,),
        )
        self.wrk(
            self.lean_port,
            seconds=seconds,
            requests=self.lean_sign_file("bench-calib", "warm-lean", n),
            expected=(303,),
        )
        if self.sizes.smoke:
            self.drop_confirmations()
            self.empty_queue("bench-bare")
            # The smoke run checks the harness, not speed: signing warmed the imports; each
            # page is fetched a few times, so that every gunicorn worker has rendered it once
            # before a one-second load (on a busy machine, a first render alone can take that).
            for name in ("surge", "small", "big"):
                slug = self.campaigns.slugs[name]
                for port, path in (
                    (self.web_port, f"/petitions/{slug}"),
                    (self.web_port, f"/api/v1/campaigns/{slug}/count.json"),
                    (self.bare_port, f"/bare/{slug}"),
                ):
                    for _ in range(2 * self.workers):
                        fetch(port, path)
            return
        pending = supporters.pending_supports(self.campaigns.ids["calib"])
        half = len(pending) // 2
        from campaign.jobs.supports import support_token

        app_confirm, _ = self.request_file(
            "warm-confirm-app",
            [
                ("GET", f"/supports/confirm/{support_token('confirm-support', s)}", "", {})
                for s in pending[:half]
            ],
        )
        bare_confirm, _ = self.request_file(
            "warm-confirm-bare", [("GET", f"/bare/confirm/{s.id}", "", {}) for s in pending[half:]]
        )
        self.db.session.commit()
        self.wrk(self.web_port, seconds=seconds, requests=app_confirm)
        self.wrk(self.bare_port, seconds=seconds, requests=bare_confirm)
        slug = self.campaigns.slugs["surge"]
        for port, paths in (
            (self.web_port, [f"/petitions/{slug}", f"/api/v1/campaigns/{slug}/count.json"]),
            (self.bare_port, [f"/bare/{slug}", f"/bare/{slug}/count.json"]),
        ):
            for path in paths:
                self.wrk(port, path, seconds=seconds)
        self.drop_confirmations()
        self.empty_queue("bench-bare")

    # ================================================================== scenarios

    def surge(self) -> dict:
        """Distinct supporters POST the real sign form to one hot campaign."""
        sizes = self.sizes
        self.log("Surge signing…")
        # The web tier alone: workers would share these two cores with it; the confirmation
        # emails wait in the queue and are sent afterwards (measured below).
        self.stop_pool()
        before = self.count_supports("surge")
        # The bare ceiling writes each support with its row of confirmations_owed in one
        # statement, as the app must (work is recorded in the database before it is queued),
        # and enqueues its RQ job; the plain route (the email owed in RQ alone) runs after.
        bare_files = [
            self.bare_sign_file("bench-bare", f"bare-{i}", sizes.surge_pool, route="support-owed")
            for i in (1, 2)
        ]
        app_files = [
            self.sign_file(self.campaigns.slugs["surge"], f"surge-{i}", sizes.surge_pool) for i in (1, 2)
        ]
        lean_file = self.lean_sign_file("bench-lean", "lean", sizes.surge_pool)
        bare, app = self.alternated(
            (self.bare_port, bare_files), (self.web_port, app_files), sizes.surge_seconds
        )
        stored = self.count_supports("surge") - before
        lean_before = self.count_supports("lean")
        lean = self.wrk(self.lean_port, seconds=sizes.surge_seconds, requests=lean_file, expected=(303,))
        lean_stored = self.count_supports("lean") - lean_before
        raw_file = self.lean_sign_file("bench-lean", "raw", sizes.surge_pool, under="/lean/raw/")
        raw = self.wrk(self.lean_port, seconds=sizes.surge_seconds, requests=raw_file, expected=(303,))
        raw_stored = self.count_supports("lean") - lean_before - lean_stored
        plain_file = self.bare_sign_file("bench-bare", "bare-plain", sizes.surge_pool)
        plain = self.wrk(
            self.bare_port, seconds=sizes.surge_seconds / 2, requests=plain_file, expected=(303,)
        )
        self.drop_confirmations("bare")  # the bare ceiling's owed rows: no dispatcher's
        queued = self.owed_confirmations("surge")  # before the rate-limit check adds its own
        limit_check = self.rate_limit_check()
        self.empty_queue("bench-bare")
        figures = [
            figure(
                "accepted signatures/s",
                round(app.rate),
                round(bare.rate),
                tgt=target("accepted/s", round(app.rate), ">=", 1000, "/s"),
            ),
            figure("p50 ms", app.latency_ms["p50"], bare.latency_ms["p50"]),
            figure(
                "p99 ms",
                app.latency_ms["p99"],
                bare.latency_ms["p99"],
                tgt=target("p99", app.latency_ms["p99"], "<=", 100, " ms"),
            ),
            figure(
                "errors", app.errors, bare.errors, with_ratio=False, tgt=target("errors", app.errors, "==", 0)
            ),
            figure(
                "share of the bare ceiling",
                round(app.rate / bare.rate, 3) if bare.rate else None,
                with_ratio=False,
                tgt=target("app/bare", round(app.rate / bare.rate, 3) if bare.rate else None, ">=", 0.85),
            ),
            figure(
                "lean prototype signatures/s (form, CSRF, session, 1 statement, 1 Redis call)",
                round(lean.rate),
                round(bare.rate),
            ),
            figure("lean prototype p99 ms", lean.latency_ms["p99"], bare.latency_ms["p99"]),
            figure(
                "lean prototype without Flask signatures/s (the same, before Flask)",
                round(raw.rate),
                round(bare.rate),
            ),
            figure("lean prototype without Flask p99 ms", raw.latency_ms["p99"], bare.latency_ms["p99"]),
            figure(
                "bare ceiling without its owed row signatures/s (the email owed in RQ alone)",
                round(plain.rate),
                round(bare.rate),
            ),
        ]
        result = {
            "title": "surge signing",
            "figures": figures,
            "app": app.summary(),
            "bare": bare.summary(),
            "stored": stored,
            "confirmation_emails_owed": queued,
            # Each wrk run stops with up to one request per connection unanswered (not
            # counted), which the server may still store: 0 <= stored - accepted <= 2 ×
            # connections (the app's signing is two runs).
            "stored_minus_accepted": stored - app.good,
            "rate_limit": limit_check,
            "lean": {
                **lean.summary(),
                "stored": lean_stored,
                "what": "bench/lean.py: a Flask-WTF form (CSRF against the cookie session), "
                "one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING, one Redis script "
                "(limit and mail flag), the session written back; run after the app",
            },
            "lean_without_flask": {
                **raw.summary(),
                "stored": raw_stored,
                "what": "bench/lean.py raw_support: the same before Flask (werkzeug's request, "
                "Flask's session serializer, Flask-WTF's CSRF check, a plain WTForms form); run last",
            },
            "bare_without_owed_row": {
                **plain.summary(),
                "what": "bench/bare.py support: the support's INSERT and the RQ enqueue, no row of "
                "confirmations_owed (below the project's rule that work is recorded in the database "
                "before it is queued); run after the lean prototypes, half the surge's seconds",
            },
            "notes": [
                "the bare ceiling (bench/bare.py support-owed: the support and its row of "
                "confirmations_owed in one statement, then its RQ enqueue) and the app alternate, "
                "half the time each in the order bare, "
                "app, app, bare (a drift of the machine over the scenario weighs on both alike); "
                "each side's figures are its two halves together, its percentiles those of all "
                "its answers (bench.loadgen.combined)",
                "RQ workers stopped during the surge (web tier alone on the 2 cores); "
                "the confirmation emails it owes are sent afterwards, see "
                "confirmation_mail, and with the workers running in surge-end-to-end",
            ],
        }
        self.accepted_surge = app.good
        self.surge_rate = app.rate
        if self.should_profile(figures):
            reqs = self.sign_file(
                self.campaigns.slugs["profile"], "profile-sign", int(self.sizes.profile_seconds * 2_500)
            )
            result["profile"] = self.profiled(self.profile_web, "surge", requests=reqs, expected=(303,))
            self.drop_confirmations("profile")  # the profiled signers' emails: not the surge's
        return result

    def alternated(
        self,
        first: tuple[int, list[Path]],
        second: tuple[int, list[Path]],
        seconds: float,
        expected=(303,),
    ) -> tuple[loadgen.Load, loadgen.Load]:
        """Two loads measured against each other: ``first`` then ``second``, then
        ``second`` then ``first`` again, each for half of ``seconds``; each a port and two
        files of prepared requests that may be sent once (distinct supporters signing, or
        distinct links confirming), one a half; ``expected``: the statuses they answer.

        One after the other, a drift of the machine over the minute (a checkpoint, a neighbour,
        the database growing) fell on one side alone: the bare ceiling's signing, run first,
        gave 1,863/s in one run where the lean prototype, run last, gave 2,047/s. In this
        order a drift that is steady over the four halves weighs on both sides alike."""
        half = seconds / 2
        runs: dict[int, list[loadgen.Load]] = {0: [], 1: []}
        for side, (port, files) in ((0, first), (1, second), (1, second), (0, first)):
            file = files[len(runs[side])]
            runs[side].append(self.wrk(port, seconds=half, requests=file, expected=expected))
        return loadgen.combined(runs[0]), loadgen.combined(runs[1])

    def rate_limit_check(self) -> dict:
        """The limit is on: a second signature from one address is taken (303, like any other)
        but stored as suspect, never counted."""
        reqs = list(
            supporters.sign_requests(
                self.app,
                self.campaigns.slugs["surge"],
                "limit",
                2,
                self.addresses(1),
                f"http://127.0.0.1:{self.web_port}",
            )
        )
        same_address = reqs[0][3]["X-Forwarded-For"]
        statuses = []
        for method, path, body, headers in reqs:
            headers = {**headers, "X-Forwarded-For": same_address}
            conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
            conn.request(method, path, body, headers)
            statuses.append(conn.getresponse().status)
            conn.close()
        from campaign.models import Support

        suspects = list(
            self.db.session.execute(
                select(Support.suspect)
                .where(Support.campaign_id == self.campaigns.ids["surge"], Support.ip_address == same_address)
                .order_by(Support.id)
            ).scalars()
        )
        self.db.session.commit()
        return {
            "statuses": statuses,
            "suspects": suspects,
            "active": statuses == [303, 303] and suspects == [None, "rate_limit"],
            "accepted": statuses.count(303),
        }

    def confirmation_mail(self) -> dict:
        """Start the workers and let them send the confirmation emails the surge queued."""
        self.log("Sending the surge's confirmation emails…")
        self.stack.sink_command("pipelining on")  # as a relay has it: see surge_end_to_end
        self.stack.sink_command("reset")
        owed = self.owed_confirmations()
        dispatchers = self.queue_length("high")
        self.start_pool()
        deadline = time.monotonic() + self.sizes.drain_timeout
        from rq.registry import StartedJobRegistry

        from campaign.queue import get_queue

        while time.monotonic() < deadline:
            if (
                self.owed_confirmations() == 0
                and self.queue_length("high") == 0
                and StartedJobRegistry(queue=get_queue("high")).count == 0
            ):
                break
            time.sleep(0.25)
        stats = self.stack.sink_command("stats")
        seconds = stats["last_at"] - stats["first_at"] if stats["messages"] > 1 else None
        left = self.owed_confirmations()
        if left:
            # Not part of what is measured next: the bench mints the confirmation links itself.
            self.drop_confirmations()
        return {
            "emails_owed": owed,
            "dispatcher_jobs_queued": dispatchers,
            "emails": stats["messages"],
            "seconds": round(seconds, 2) if seconds else None,
            "per_s": round(stats["messages"] / seconds) if seconds else None,
            "left_unsent_after_s": self.sizes.drain_timeout if left else None,
            "left_unsent": left,
            "workers": self.sizes.pool_workers,
            "note": "sent by the always-running RQ workers after the surge (first to last "
            "email): the dispatcher claims owed emails in batches and sends each batch over "
            "one SMTP connection, in the worker's process (--no-fork)",
        }

    def surge_end_to_end(self) -> dict:
        """The surge with the RQ workers running, as production runs: signatures/s and
        confirmation emails/s together, and the emails owed at the start and the end (flat:
        the emails keep up with the signatures).

        The sink stands for a relay on another host, yet takes its CPU from the same two
        cores as the app: here it keeps no message (``keep off``), only counts them, which
        takes a third of the CPU a message (see :mod:`bench.smtp_sink`), for the app's end
        to end and the bare ceiling's alike. The messages it counted are checked against the
        receipts the senders recorded instead (``duplicates``: messages beyond one a
        receipt)."""
        self.stack.sink_command("keep off")
        try:
            return self._surge_end_to_end()
        finally:
            self.stack.sink_command("keep on")

    def _surge_end_to_end(self) -> dict:
        sizes = self.sizes
        self.log("Surge signing, end to end (the workers sending)…")
        slug = self.campaigns.slugs["e2e"]
        # What the end to end is read against: the same signing of the same campaign with the
        # workers stopped, in turns with it (as the bare ceiling's own end to end is read
        # against its signing alone in the same minute): alone a quarter, sending half,
        # alone a half, sending half, alone a quarter of the surge's seconds, so a drift of
        # the machine weighs on both alike. In halves (alone, sending, alone) one run's
        # first half alone gave 1,252/s and its second 1,642/s, the web, PostgreSQL and wrk
        # each spending a quarter more CPU a signature in the first: a slow spell of the
        # machine that fell on one side.
        quarter, half = sizes.surge_seconds / 4, sizes.surge_seconds / 2
        turns = [
            ("alone", quarter),
            ("sending", half),
            ("alone", half),
            ("sending", half),
            ("alone", quarter),
        ]
        files = [
            self.sign_file(slug, f"e2e-{what}-{n}", max(1, round(sizes.surge_pool * seconds / half)))
            for n, (what, seconds) in enumerate(turns)
        ]
        self.stop_pool()
        alone_runs: list[loadgen.Load] = []
        sending: list[dict] = []
        for (what, seconds), requests in zip(turns, files, strict=True):
            if what == "alone":
                alone_runs.append(
                    self.wrk(self.web_port, seconds=seconds, requests=requests, expected=(303,))
                )
            else:
                sending.append(self._signing_with_workers(requests, seconds))
        self.drop_confirmations()  # the last turn alone's: no scenario sends them
        app = loadgen.combined([turn["load"] for turn in sending])
        alone_load = loadgen.combined(alone_runs)
        alone = alone_load.rate
        share = round(app.rate / alone, 3) if alone else None
        earlier = getattr(self, "surge_rate", None)
        emails_during = sum(turn["emails_during"] for turn in sending)
        emails_per_s = emails_during / app.seconds if app.seconds else 0.0
        # Flat: at the end of each turn no more owed than two seconds of signing (the
        # dispatcher is asked once a second and sends in batches, so some are always on
        # their way). The turn furthest over (or least under) stands for them.
        worst = max(sending, key=lambda turn: turn["owed_at_end"] - turn["owed_limit"])
        flat = all(turn["owed_at_end"] <= turn["owed_limit"] for turn in sending)
        figures = [
            figure(
                "signatures/s, workers sending (bare: the same signing alone, in turns with it)",
                round(app.rate),
                round(alone) if alone else None,
                tgt=target("end-to-end/alone", share, ">=", 0.85),
            ),
            figure(
                "signatures/s, workers sending (bare: the surge scenario's, earlier in the run)",
                round(app.rate),
                round(earlier) if earlier else None,
            ),
            figure("confirmation emails/s during the surge", round(emails_per_s), round(app.rate)),
            figure(
                "emails owed at start / end (the turn nearest its limit)",
                worst["owed_at_start"],
                worst["owed_at_end"],
                with_ratio=False,
                tgt=target("owed at end (flat)", worst["owed_at_end"], "<=", worst["owed_limit"]),
            ),
            figure("p99 ms", app.latency_ms["p99"], None),
            figure("errors", app.errors, None, with_ratio=False, tgt=target("errors", app.errors, "==", 0)),
        ]
        bare = self.bare_end_to_end()
        figures.append(
            figure(
                "bare ceiling's signatures/s with a bare dispatcher sending (bare: the same alone)",
                round(bare["with_dispatcher"]["per_s"]),
                round(bare["alone"]["per_s"]),
            )
        )
        return {
            "title": "surge end to end",
            "bare_end_to_end": bare,
            "figures": figures,
            "app": app.summary(),
            "alone": alone_load.summary(),
            "share_of_alone": share,
            "surge_scenario_per_s": round(earlier, 1) if earlier else None,
            "share_of_surge_scenario": round(app.rate / earlier, 3) if earlier else None,
            "emails_during": emails_during,
            "emails_per_s_during": round(emails_per_s, 1),
            "flat": flat,
            "turns_sending": [{k: v for k, v in turn.items() if k != "load"} for turn in sending],
            "emails_in_all": sum(turn["emails_in_all"] for turn in sending),
            "receipts_made": sum(turn["receipts_made"] for turn in sending),
            "duplicates": sum(turn["emails_in_all"] - turn["receipts_made"] for turn in sending),
            "left_unsent_after_drain": sum(turn["left_unsent_after_drain"] for turn in sending),
            "workers": sizes.pool_workers,
            "notes": [
                "the surge's signing with the always-running RQ workers (--no-fork) sending "
                "the confirmation emails as they are owed, to the sink offering PIPELINING as a "
                "relay does; read against the same signing of the same campaign with the "
                "workers stopped, in turns with it (alone a quarter of the time, sending a "
                "half, alone a half, sending a half, alone a quarter); the surge scenario's "
                "figure, earlier in the run, is given beside it"
            ],
        }

    def _signing_with_workers(self, requests: Path, seconds: float) -> dict:
        """One turn of the end to end: the workers started (nothing owed before), the signing
        for ``seconds`` while they send, the emails owed sampled each second; then the tail
        drained and the workers stopped again."""
        sizes = self.sizes
        dropped = self.drop_confirmations()  # none of what is measured next
        self.start_pool()
        # The sink answers as the relay it stands for does (Postfix, and the big senders'
        # SMTP endpoints): offering PIPELINING, so a batch of confirmations costs one round
        # trip an email. The fan-out measures both shapes.
        self.stack.sink_command("pipelining on")
        self.stack.sink_command("reset")
        receipts_before = self.receipts()
        owed_start = self.owed_confirmations()
        engine = self.db.engine
        samples: list[tuple[float, int]] = []
        stop = threading.Event()
        from campaign.models import ConfirmationOwed

        count_owed = select(func.count()).select_from(ConfirmationOwed)

        def sample() -> None:
            began = time.monotonic()
            with engine.connect() as conn:
                while not stop.is_set():
                    owed_now = conn.execute(count_owed).scalar_one()
                    samples.append((round(time.monotonic() - began, 2), owed_now))
                    conn.rollback()
                    stop.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            load = self.wrk(self.web_port, seconds=seconds, requests=requests, expected=(303,))
        finally:
            stop.set()
            sampler.join()
        during = self.stack.sink_command("stats")
        owed_end = self.owed_confirmations()
        # Then the emails left are sent: how long the tail took.
        drained_after = None
        started = time.monotonic()
        while time.monotonic() - started < sizes.drain_timeout:
            if self.owed_confirmations() == 0:
                drained_after = round(time.monotonic() - started, 2)
                break
            time.sleep(0.25)
        after = self.stack.sink_command("stats")
        receipts_made = self.receipts() - receipts_before
        left = self.drop_confirmations() if self.owed_confirmations() else 0
        self.stop_pool()
        return {
            "load": load,
            "per_s": round(load.rate, 1),
            "emails_during": during["messages"],
            "owed_at_start": owed_start,
            "owed_at_end": owed_end,
            "owed_limit": round(owed_start + 2 * max(load.rate, 1)),
            "owed_samples": samples,
            "drained_after_s": drained_after,
            "emails_in_all": after["messages"],
            "receipts_made": receipts_made,
            "left_unsent_after_drain": left,
            "dropped_before": dropped,
        }

    def bare_end_to_end(self) -> dict:
        """The end to end of the bare ceiling: its signing, each support marked as owed its
        confirmation email, alone and then while a bare dispatcher (``bench.bare_jobs
        dispatch``: the claim, the pipelined messages of the app's email's size, the receipts
        and the marks, and nothing else) sends those emails to the sink. Their ratio is the
        least signing loses to its emails on this machine, whatever the app's design: what
        the app's end to end is read against. The workers are stopped meanwhile (they would
        claim these emails too)."""
        sizes = self.sizes
        self.log("Surge end to end, the bare ceiling…")
        self.stop_pool(always=True)
        slug = "bench-bare"
        size = self.confirmation_email_size()
        alone_file = self.bare_sign_file(slug, "bare-e2e-alone", sizes.surge_pool, route="support-owed")
        with_file = self.bare_sign_file(slug, "bare-e2e-with", sizes.surge_pool, route="support-owed")
        # Its dispatcher claims whatever is owed, as the app's does: the app's emails left
        # owed (none after its drain) are dropped first.
        self.drop_confirmations()
        alone = self.wrk(self.bare_port, seconds=sizes.surge_seconds, requests=alone_file, expected=(303,))
        self.drop_confirmations("bare")
        self.stack.sink_command("reset")
        receipts_before = self.receipts("bare-confirm:")
        dispatcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bare_jobs",
                "dispatch",
                str(self.mail_port),
                str(size),
            ],
            env=self.stack.env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            if json.loads(dispatcher.stdout.readline() or "{}").get("ready") is not True:
                raise RuntimeError("the bare dispatcher did not start")
            with_dispatcher = self.wrk(
                self.bare_port, seconds=sizes.surge_seconds, requests=with_file, expected=(303,)
            )
            during = self.stack.sink_command("stats")
            started = time.monotonic()
            while self.owed_confirmations("bare") and time.monotonic() - started < sizes.drain_timeout:
                time.sleep(0.25)
        finally:
            dispatcher.terminate()
            out, _ = dispatcher.communicate(timeout=60)
        if dispatcher.returncode != 0:
            raise RuntimeError(f"the bare dispatcher failed with {dispatcher.returncode}")
        sent = json.loads(out.strip().splitlines()[-1])
        taken = self.stack.sink_command("stats")
        receipts_made = self.receipts("bare-confirm:") - receipts_before
        left = self.drop_confirmations("bare")
        self.start_pool()
        return {
            "alone": alone.summary(),
            "with_dispatcher": with_dispatcher.summary(),
            "share_of_alone": round(with_dispatcher.rate / alone.rate, 3) if alone.rate else None,
            "dispatcher": sent,
            "dispatcher_cpu_ms_per_email": round(1000 * sent["cpu_seconds"] / sent["sent"], 3)
            if sent["sent"]
            else None,
            "emails_per_s_during": round(during["messages"] / with_dispatcher.seconds, 1)
            if with_dispatcher.seconds
            else None,
            "sink_messages": taken["messages"],
            "sink_duplicates": taken["messages"] - receipts_made,
            "owed_left": left,
            "email_bytes": size,
            "what": "bench/bare.py support-owed and bench/bare_jobs.py dispatch: the bare ceiling's "
            "signing marking each support owed its email, alone, then with a bare dispatcher "
            "sending those emails (emails of the app's size) to the sink offering PIPELINING",
        }

    def confirmation_email_size(self) -> int:
        """The bytes of the app's confirmation email (for a support of the end to end's
        campaign), as its dispatcher sends it to a server offering 8BITMIME."""
        from campaign.jobs.supports import _CLAIMED, confirmation_emails
        from campaign.models import Support

        row = self.db.session.execute(
            select(*(Support.__table__.c[column.key] for column in _CLAIMED))
            .where(Support.campaign_id == self.campaigns.ids["e2e"])
            .limit(1)
        ).one()
        self.db.session.rollback()
        ((_, email),) = confirmation_emails([row], {row.id: f"confirm-support:{row.id}:bench-size"})
        return len(email.to_bytes(self.app.config["MAIL_FROM"], eight_bit=True))

    def confirmation(self) -> dict:
        """The confirmation links of the surge's signatures, opened; then, how soon they count."""
        sizes = self.sizes
        self.log("Confirmation…")
        mail = self.confirmation_mail()
        bare_files, bare_n = self.halves(
            "confirm-bare", supporters.bare_confirm_requests(self.campaigns.ids["bare"])
        )
        app_files, app_n = self.halves(
            "confirm-app", supporters.confirm_requests(self.campaigns.ids["surge"])
        )
        self.db.session.commit()
        slug = self.campaigns.slugs["surge"]
        poller = CountPoller(self.web_port, f"/api/v1/campaigns/{slug}/count.json")
        base = poller.read()
        poller.start()
        # In turns, as the surge signs: one after the other, a slow spell fell on one side
        # (0.79 of the ceiling in one full run, 0.92-0.98 in the five before it).
        bare, app = self.alternated(
            (self.bare_port, bare_files), (self.web_port, app_files), sizes.confirm_seconds, expected=(200,)
        )
        confirmed_at = self.confirmed_times("surge")
        expected = len(confirmed_at)
        ok = poller.wait_for(base + expected, timeout=60)
        poller.stop()
        lags = lag_seconds(confirmed_at, poller.samples, base)
        worst = round(max(lags), 2) if lags and ok else None
        # The lean prototype (bench/lean.py) confirms the lean surge's supports with the
        # app's own links: the best a confirming Flask request does before the app's page.
        lean_file, lean_n = self.request_file(
            "confirm-lean", supporters.lean_confirm_requests(self.campaigns.ids["lean"])
        )
        self.db.session.commit()
        lean = self.wrk(self.lean_port, seconds=sizes.confirm_seconds, requests=lean_file)
        figures = [
            figure(
                "confirmations/s",
                round(app.rate),
                round(bare.rate),
                tgt=target("confirmations/s", round(app.rate), ">=", 1000, "/s"),
            ),
            figure("p99 ms", app.latency_ms["p99"], bare.latency_ms["p99"]),
            figure("errors", app.errors, bare.errors, with_ratio=False),
            figure(
                "share of the bare ceiling",
                round(app.rate / bare.rate, 3) if bare.rate else None,
                with_ratio=False,
                tgt=target("app/bare", round(app.rate / bare.rate, 3) if bare.rate else None, ">=", 0.85),
            ),
            figure(
                "lean prototype confirmations/s (token, 1 statement, 1 Redis call, a small page)",
                round(lean.rate),
                round(bare.rate),
            ),
            figure("lean prototype errors", lean.errors, bare.errors, with_ratio=False),
            figure(
                "s from confirm to counted (worst)",
                worst,
                with_ratio=False,
                tgt=target("counted within", worst, "<=", 5, " s"),
            ),
        ]
        result = {
            "title": "confirmation",
            "figures": figures,
            "app": app.summary(),
            "bare": bare.summary(),
            "lean": {
                **lean.summary(),
                "what": "bench/lean.py: the app's confirmation token read by itsdangerous, one "
                "WITH … UPDATE … RETURNING (its delta inserted) in autocommit, one Redis SET NX, "
                "the bare ceiling's small page; run after the app",
            },
            "links": {"app": app_n, "bare": bare_n, "lean": lean_n},
            "notes": [
                "the bare ceiling (bench/bare.py: an UPDATE and the delta's INSERT, a small "
                "page) and the app alternate, half the time and half the links each, in the "
                "order bare, app, app, bare; each side's figures are its two halves together "
                "(bench.loadgen.combined)",
            ],
            "confirmed": expected,
            "all_counted": ok,
            "counted_lag_s": {
                "p50": round(statistics.median(lags), 3) if lags else None,
                "p99": round(_percentile(lags, 99), 3) if lags else None,
                "max": worst,
                "method": "count.json polled every 0.1 s; the k-th "
                "confirmation (by confirmed_at) counts once the "
                "count has risen by k",
            },
            "confirmation_mail": mail,
        }
        if self.should_profile(figures):
            seed.bulk_supports(
                self.campaigns.ids["profile"], "profile-pending", sizes.profile_confirmations, pending=True
            )
            path, _ = self.request_file(
                "profile-confirm", supporters.confirm_requests(self.campaigns.ids["profile"])
            )
            self.db.session.commit()
            result["profile"] = self.profiled(self.profile_web, "confirmation", requests=path)
        return result

    def confirmed_times(self, campaign: str) -> list[float]:
        from campaign.models import Support

        rows = (
            self.db.session.execute(
                select(Support.confirmed_at)
                .where(Support.campaign_id == self.campaigns.ids[campaign], Support.confirmed_at.is_not(None))
                .order_by(Support.confirmed_at)
            )
            .scalars()
            .all()
        )
        self.db.session.commit()
        return [r.timestamp() for r in rows]

    def watching(self) -> dict:
        """The campaign page and count.json under refresh load."""
        seconds = self.sizes.watch_seconds
        self.log("Watching…")
        slug = self.campaigns.slugs["surge"]
        count_bare = self.wrk(self.bare_port, f"/bare/{slug}/count.json", seconds=seconds)
        count_app = self.wrk(self.web_port, f"/api/v1/campaigns/{slug}/count.json", seconds=seconds)
        page_bare = self.wrk(self.bare_port, f"/bare/{slug}", seconds=seconds)
        page_app = self.wrk(self.web_port, f"/petitions/{slug}", seconds=seconds)
        figures = [
            figure(
                "count.json requests/s",
                round(count_app.rate),
                round(count_bare.rate),
                tgt=target("count.json/s", round(count_app.rate), ">=", 3000, "/s"),
            ),
            figure("count.json p99 ms", count_app.latency_ms["p99"], count_bare.latency_ms["p99"]),
            figure(
                "page requests/s",
                round(page_app.rate),
                round(page_bare.rate),
                tgt=target("page/s vs bare", round(page_app.rate), ">=", round(page_bare.rate), "/s (bare)"),
            ),
            figure("page p99 ms", page_app.latency_ms["p99"], page_bare.latency_ms["p99"]),
            figure(
                "errors",
                count_app.errors + page_app.errors,
                count_bare.errors + page_bare.errors,
                with_ratio=False,
            ),
        ]
        result = {
            "title": "watching",
            "figures": figures,
            "count_json": {"app": count_app.summary(), "bare": count_bare.summary()},
            "page": {"app": page_app.summary(), "bare": page_bare.summary()},
        }
        if self.should_profile(figures[:1]):
            result["profile_count_json"] = self.profiled(
                self.profile_web, "watching-count", f"/api/v1/campaigns/{slug}/count.json"
            )
        if self.should_profile(figures[2:3]):
            result["profile_page"] = self.profiled(self.profile_web, "watching-page", f"/petitions/{slug}")
        return result

    def size(self) -> dict:
        """The campaign page with a hundred vs a million confirmed supports."""
        seconds = self.sizes.size_seconds
        self.log("Size…")
        # The page's latency, not a queue: one request at a time. With a connection for each
        # request a worker may serve at once, the p50 was a queue's, and it depended on how
        # the kernel spread the connections over the workers at each run: about 0.4 ms when
        # one worker had few, 1.5-1.8 ms when they were even, on either side (a ratio of
        # 2.58 from one of each, 0.25-1.0 in the nine runs before).
        conns = 1
        loads = {}
        for name in ("small", "big"):
            slug = self.campaigns.slugs[name]
            loads[name] = (
                self.wrk(self.web_port, f"/petitions/{slug}", seconds=seconds, connections=conns),
                self.wrk(self.bare_port, f"/bare/{slug}", seconds=seconds, connections=conns),
            )
        app_ratio = p50_ratio(loads["big"][0], loads["small"][0])
        bare_ratio = p50_ratio(loads["big"][1], loads["small"][1])
        counts = {n: self.count_supports(n, confirmed=True) for n in ("small", "big")}
        figures = [
            figure(
                f"p50 ms, {counts['small']:,} supports",
                loads["small"][0].latency_ms["p50"],
                loads["small"][1].latency_ms["p50"],
            ),
            figure(
                f"p50 ms, {counts['big']:,} supports",
                loads["big"][0].latency_ms["p50"],
                loads["big"][1].latency_ms["p50"],
            ),
            figure(
                "p50 ratio big/small",
                app_ratio,
                bare_ratio,
                with_ratio=False,
                tgt=target("p50 ratio", app_ratio, "<=", 1.2),
            ),
        ]
        return {
            "title": "size",
            "figures": figures,
            "confirmed": counts,
            "app": {n: loads[n][0].summary() for n in loads},
            "bare": {n: loads[n][1].summary() for n in loads},
        }

    def search(self) -> dict:
        """Browse at 100 and at 100,000 public campaigns (each sort's page p50, the two sizes
        in turns), then search at 100,000 (and the million supports): the p99 of varied
        searches."""
        from urllib.parse import quote

        from campaign import create_app
        from campaign.models import Campaign, CampaignState
        from campaign.search import SORTS, Filters, browse_page

        sizes, seconds = self.sizes, self.sizes.search_seconds
        # The search page's latency, not a queue: one request at a time per gunicorn
        # process, which runs one request's Python at a time whatever its threads or
        # greenlets (a gevent worker, counted as four threads when sizing loads, had four
        # searches queued on its core).
        search_conns = self.workers
        per_page = self.app.config["CAMPAIGNS_PER_PAGE"]
        self.log("Search…")

        def public() -> int:
            value = self.db.session.execute(
                select(func.count())
                .select_from(Campaign)
                .where(Campaign.state.in_([CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED]))
            ).scalar_one()
            self.db.session.commit()
            return value

        def described() -> dict:
            """The database of this app context as browsed: its public campaigns, the
            campaigns each sort's first page lists, and the SQL of each page alone (the
            defensible figure on a shared machine: the server's time per page)."""
            return {
                "campaigns": public(),
                "listed": {s: len(browse_page(Filters(sort=s), 1, per_page).items) for s in SORTS},
                "sql_ms": {s: sql_timings.page_ms(self.db, Filters(sort=s), per_page) for s in SORTS},
            }

        # The two sizes are two databases, served side by side by two gunicorns of the
        # same shape, so that each sort is measured at both in turns (small, large, large,
        # small): measured minutes apart, before and after seeding the large size, a drift
        # of the machine fell on one side alone (in five full runs, a sort's page rate moved
        # by up to 22% between sizes while its SQL stayed flat). The small size has a
        # larger share of victories, so that every sort's first page is full at both.
        timings, loads = {}, {}
        small_app = create_app({"SQLALCHEMY_DATABASE_URI": self.small_database_url})
        with small_app.app_context():
            organiser_id = seed.seed_base({}).organiser_id
            timings["small"] = round(seed.bulk_campaigns(organiser_id, sizes.search_small, won_share=0.3), 2)
            seed.vacuum_analyze()
            loads["small"] = described()
            self.db.session.remove()
        missing = max(0, sizes.search_large - public())
        timings["large"] = round(seed.bulk_campaigns(self.campaigns.organiser_id, missing), 2)
        seed.vacuum_analyze()
        loads["large"] = described()
        for label in loads:
            self.log(
                f"  {label}: {loads[label]['campaigns']:,} public campaigns (seeded in "
                f"{timings[label]:.1f} s); browse SQL ms, single client: {loads[label]['sql_ms']}"
            )
        short = [s for s in SORTS if loads["small"]["listed"][s] != loads["large"]["listed"][s]]
        if short:
            self.log(f"  (the sizes' first pages list different numbers of campaigns: {short})")
        # Each size is served by a gunicorn of its own, started together and warmed alike:
        # the app's own, after the scenarios before, held a larger heap for its collector
        # to walk than a fresh one.
        envs = {
            "small": {"DATABASE_URL": self.small_database_url, "REDIS_URL": f"{self.stack.redis_url}?db=1"},
            "large": {},
        }
        servers = {
            label: self.stack.start_web(
                f"web-{label}",
                "wsgi:app",
                free_port(),
                self.workers,
                self.web_threads,
                wait=False,
                worker_class=self.worker_class,
                env=env,
            )
            for label, env in envs.items()
        }
        ports = {label: server.port for label, server in servers.items()}
        try:
            for label, server in servers.items():
                wait_http(ports[label], "/", server)
                loads[label]["sorts"], loads[label]["page_bytes"] = {}, {}
            for sort in SORTS:  # a first render of each page in each process, then the turns
                for _ in range(4 * self.workers):
                    for label, port in ports.items():
                        loads[label]["page_bytes"][sort] = len(fetch_body(port, f"/campaigns/?sort={sort}"))
            # Small and large in turns, twice over (small, large, large, small, and again),
            # each a quarter of the time: on this machine a page's CPU moved by a quarter
            # from one turn of two seconds to the next.
            turns = ("small", "large") if sizes.smoke else ("small", "large", "large", "small") * 2
            for sort in SORTS:
                runs: dict[str, list[loadgen.Load]] = {"small": [], "large": []}
                for label in turns:
                    # One connection: the page's latency, not a queue's (more connections
                    # than one queue behind each other in whichever process the kernel gave
                    # them to, as the size scenario's did).
                    runs[label].append(
                        self.wrk(
                            ports[label],
                            f"/campaigns/?sort={sort}",
                            seconds=seconds * 2 / len(turns),
                            connections=1,
                        )
                    )
                for label, done in runs.items():
                    loads[label]["sorts"][sort] = loadgen.combined(done).summary()
        finally:
            for server in servers.values():
                self.stack.forget(server)
        queries = seed.search_queries(sizes.search_queries)
        self.log(f"  timing {sizes.search_explained:,} searches alone (EXPLAIN ANALYZE)…")
        by_shape: dict[str, list[float]] = {shape: [] for shape in seed.QUERY_SHAPES}
        for n, query in enumerate(queries[: sizes.search_explained]):
            statements = sql_timings.page_statements(self.db, Filters(query=query), per_page)
            by_shape[seed.QUERY_SHAPES[n % len(seed.QUERY_SHAPES)]].append(
                sum(sql_timings.execution_ms(self.db, *s) for s in statements)
            )
        search_sql = {
            "all": sql_timings.summary([ms for values in by_shape.values() for ms in values]),
            **{shape: sql_timings.summary(values) for shape, values in by_shape.items() if values},
        }
        self.log(f"  search SQL ms, single client: {search_sql['all']}")
        path, _ = self.request_file("search", (("GET", f"/campaigns/?q={quote(q)}", "", {}) for q in queries))
        self.log(f"  searching ({len(queries):,} varied queries)…")
        searched = self.wrk(
            self.web_port, "/campaigns/", seconds=max(seconds * 2, 1), connections=search_conns, requests=path
        )
        api_path, _ = self.request_file(
            "search-api", (("GET", f"/api/v1/campaigns?q={quote(q)}&per_page=20", "", {}) for q in queries)
        )
        api = self.wrk(
            self.web_port,
            "/api/v1/campaigns",
            seconds=max(seconds * 2, 1),
            connections=search_conns,
            requests=api_path,
        )
        figures = []
        ratios = {}
        for sort in SORTS:
            small = loads["small"]["sorts"][sort]["p50_ms"]
            large = loads["large"]["sorts"][sort]["p50_ms"]
            ratios[sort] = round(large / small, 3) if small else None
            figures.append(
                figure(
                    f"browse {sort}: p50 ms at {loads['small']['campaigns']:,} / "
                    f"{loads['large']['campaigns']:,} campaigns",
                    ratios[sort],
                    with_ratio=False,
                    note=f"{small} / {large} ms",
                    tgt=target(f"browse {sort} large/small", ratios[sort], "<=", 1.2),
                )
            )
        for sort in SORTS:
            small = loads["small"]["sql_ms"][sort]
            large = loads["large"]["sql_ms"][sort]
            figures.append(
                figure(
                    f"browse {sort}: PostgreSQL ms per page alone (EXPLAIN ANALYZE), "
                    f"{loads['small']['campaigns']:,} / {loads['large']['campaigns']:,}",
                    large,
                    with_ratio=False,
                    note=f"{small} / {large} ms",
                )
            )
        figures += [
            figure(
                "search: PostgreSQL ms per page alone (EXPLAIN ANALYZE), p50 / p99 / max",
                search_sql["all"]["p99_ms"],
                with_ratio=False,
                note=f"{search_sql['all']['p50_ms']} / {search_sql['all']['p99_ms']} / "
                f"{search_sql['all']['max_ms']} ms over {search_sql['all']['count']} queries",
            ),
            figure(
                "search page p50 / p99 ms",
                searched.latency_ms["p50"],
                with_ratio=False,
                note=f"p99 {searched.latency_ms['p99']} ms",
            ),
            figure(
                "search page p99 ms",
                searched.latency_ms["p99"],
                with_ratio=False,
                tgt=target("search p99", searched.latency_ms["p99"], "<=", 50, " ms"),
            ),
            figure("API search p99 ms", api.latency_ms["p99"], with_ratio=False),
            figure(
                "errors",
                searched.errors
                + api.errors
                + sum(load["errors"] for size in loads.values() for load in size["sorts"].values()),
                with_ratio=False,
                tgt=target("errors", searched.errors + api.errors, "==", 0),
            ),
        ]
        result = {
            "title": "search",
            "figures": figures,
            "browse": loads,
            "seeding_seconds": timings,
            "ratios": ratios,
            "search_page": searched.summary(),
            "search_api": api.summary(),
            "search_sql_ms": search_sql,
            "notes": [
                "browse: the small size is a database of its own (groundswell_bench_small); "
                "each size is served by a gunicorn of its own, of the app's shape, started "
                "together and warmed alike; each sort's page is loaded over one connection at "
                "the two sizes in turns (small, large, large, small, twice over), a quarter of "
                "the time each; each size's figures are its turns together "
                "(bench.loadgen.combined); 'listed' is what each sort's first page shows, "
                "'page_bytes' its size",
            ],
        }
        if self.should_profile(figures):
            result["profile_search"] = self.profiled(self.profile_web, "search", "/campaigns/", path)
        return result

    def delivery(self) -> dict:
        """Package (PDF + CSV + seal + Merkle tree + signed statement) of the million-signature
        petition, by a real RQ worker."""
        self.log("Delivery…")
        from campaign import packages
        from campaign.models import Delivery, DeliveryState
        from campaign.services.deliveries import request_delivery

        self.settle()
        self.stop_pool()
        worker = self.stack.start_workers(1, ("default",), name="delivery-worker")[0]
        self.wait_for_workers(len(self.pool) + 1)
        sampler = TreeSampler(worker.pid)
        sampler.start()
        meter = CpuMeter(self.cpu_groups())
        started = time.perf_counter()
        delivery = request_delivery(self.campaigns.ids["big"], self.campaigns.organiser_id)
        delivery_id = delivery.id
        deadline = time.monotonic() + self.sizes.delivery_timeout
        state = DeliveryState.QUEUED
        while time.monotonic() < deadline:
            self.db.session.commit()
            state = self.db.session.execute(select(Delivery.state).filter_by(id=delivery_id)).scalar_one()
            if state != DeliveryState.QUEUED:
                break
            time.sleep(0.1)
        seconds = round(time.perf_counter() - started, 2)
        cores = meter.cores(seconds)
        cores.pop("wrk", None)
        sampler.sample()
        sampler.stop()
        self.stack.forget(worker)
        delivery = self.db.session.get(Delivery, delivery_id)
        files = packages.package_files(delivery)
        with files["csv"].open("rb") as fh:
            csv_rows = sum(1 for _ in fh) - 1
        checks = {
            "state": state.value,
            "support_count": delivery.support_count,
            "csv_rows": csv_rows,
            "csv_mb": round(files["csv"].stat().st_size / 2**20, 1),
            "pdf_kb": round(files["pdf"].stat().st_size / 1024, 1),
            "seal_valid": bool(delivery.digest and packages.seal_is_valid(delivery.digest, delivery.seal)),
            **self.proof_checks(delivery, files),
        }
        self.db.session.commit()
        bare = run_measured(
            [
                sys.executable,
                "-m",
                "bench.bare_jobs",
                "delivery",
                str(self.campaigns.ids["big"]),
                str(self.stack.dir / "bare-delivery"),
            ],
            self.stack.env,
        )
        peak = sampler.peak_mb
        sent = state == DeliveryState.SENT
        figures = [
            figure(
                "seconds",
                seconds if sent else None,
                bare["seconds"],
                tgt=target("seconds", seconds if sent else None, "<=", 60, " s"),
            ),
            figure(
                "peak memory MB",
                round(peak),
                round(bare["maxrss_mb"]),
                tgt=target("peak memory", round(peak), "<=", 300, " MB"),
            ),
        ]
        return {
            "title": "delivery",
            "figures": figures,
            "checks": checks,
            "app": {
                "seconds": seconds,
                "peak_rss_mb": round(peak),
                "cores_used": cores,
                "peak_rss_mb_by_process": {str(k): round(v) for k, v in sampler.peaks.items()},
            },
            "bare": bare,
            "notes": [
                "seconds: from request_delivery() to the delivery being sent (worker "
                "already running); peak memory: the largest peak resident set (VmHWM) "
                "of the worker and of the work-horse that built the package"
            ],
        }

    def proof_checks(self, delivery, files) -> dict:
        """The round's signed statement checked against its files, and the receipts of its
        first, middle and last supporters checked against its Merkle root, by the verifier."""
        from campaign import packages, signing
        from campaign.models import Support
        from campaign.verifier import verify_proof

        if not delivery.statement:
            return {"statement_valid": False}
        keys = signing.key_list()
        try:
            verify_proof.check_package(
                packages.statement_document(delivery), str(files["csv"]), str(files["pdf"]), keys
            )
            statement_valid = True
        except verify_proof.ProofError:
            statement_valid = False
        ids = (
            self.db.session.execute(
                select(Support.id)
                .where(
                    Support.campaign_id == delivery.campaign_id,
                    Support.id > delivery.after_support_id,
                    Support.id <= delivery.up_to_support_id,
                    Support.counts,
                )
                .order_by(Support.id)
            )
            .scalars()
            .all()
        )
        receipts_valid = 0
        started = time.perf_counter()
        for support_id in (ids[0], ids[len(ids) // 2], ids[-1]):
            support = self.db.session.get(Support, support_id)
            try:
                verify_proof.check_receipt(packages.receipt(delivery, support), keys)
                receipts_valid += 1
            except (verify_proof.ProofError, TypeError):
                pass
        return {
            "statement_valid": statement_valid,
            "receipts_valid": f"{receipts_valid}/3",
            "receipt_ms": round((time.perf_counter() - started) * 1000 / 3, 1),
            "tree_mb": round(files["tree"].stat().st_size / 2**20, 1),
            "leaves_mb": round(files["leaves"].stat().st_size / 2**20, 1),
        }

    def fanout(self) -> dict:
        """The goal notification to every consenting supporter of the big petition, by SMTP.

        Measured twice, in this order: with the sink not offering PIPELINING,
        then with the sink offering PIPELINING (an update to the same supporters). Each time
        the sink's own ceiling (senders with a connection each and nothing else,
        :mod:`bench.sink_ceiling`), the bare ceiling of the batch design
        (:func:`bench.bare_jobs.batches`) and the app (RQ workers running ``send_batch``)."""
        sizes = self.sizes
        self.log("Fan-out…")
        from campaign.jobs.notify import fan_out
        from campaign.models import Milestone, Support, Update

        self.settle()
        self.stop_pool()
        big = self.campaigns.ids["big"]
        recipients = self.db.session.execute(
            select(Support.id, Support.email)
            .where(
                Support.campaign_id == big,
                Support.consents_to_updates.is_(True),
                Support.counts,
            )
            .order_by(Support.id)
        ).all()
        expected = {email for _, email in recipients}
        sample = recipients[: sizes.bare_fanout_recipients]
        ids_file = self.scratch / "bare-fanout-ids.txt"
        ids_file.write_text("\n".join(str(sid) for sid, _ in sample))
        # The per-email designs are slow: a fifth of the sample gives their rates.
        few = sample[: max(len(sample) // 5, 1)]
        few_file = self.scratch / "bare-fanout-few-ids.txt"
        few_file.write_text("\n".join(str(sid) for sid, _ in few))
        milestone_id = self.db.session.execute(
            select(Milestone.id).filter_by(campaign_id=big, is_goal=True)
        ).scalar_one()
        update = Update(
            campaign_id=big, author_id=self.campaigns.organiser_id, title="Pipelined update", body="Thanks."
        )
        self.db.session.add(update)
        self.db.session.commit()
        workers = sizes.fanout_workers
        seconds = 2 if sizes.smoke else 8  # the sink ceiling's measure

        # The designs before issue 17: a receipt, a send and a commit per email, with a
        # connection per email, then with one per process.
        per_email = self.bare_fanout(few_file, {email for _, email in few}, workers)
        per_email_reused = self.bare_fanout(few_file, {email for _, email in few}, workers, reuse=True)

        runs = {}
        for pipelining in (False, True):
            self.stack.sink_command(f"pipelining {'on' if pipelining else 'off'}")
            ceiling = self.sink_ceiling(workers, seconds, pipelining)
            bare = self.bare_fanout(
                ids_file, {email for _, email in sample}, workers, mode="batches", tag=str(pipelining)
            )
            if pipelining:
                app = self.app_fanout(lambda: fan_out("update", update.id, big), expected, workers)
            else:
                app = self.app_fanout(lambda: fan_out("goal", milestone_id, big), expected, workers)
            runs[pipelining] = {"sink_ceiling": ceiling, "bare": bare, "app": app}
        self.stack.sink_command("pipelining off")

        figures = []
        for pipelining, run in runs.items():
            app, bare, ceiling = run["app"], run["bare"], run["sink_ceiling"]
            how = "pipelined" if pipelining else "one by one"
            limit = min(1000, ceiling["per_s"] or 1000)
            figures += [
                figure(
                    f"emails/s, {how}",
                    app["per_s"],
                    bare["per_s"],
                    tgt=target(f"emails/s, {how}", app["per_s"], ">=", limit, "/s"),
                    note=f"target: 1,000/s or the sink's own ceiling in this run ({ceiling['per_s']}/s)",
                ),
                figure(
                    f"duplicates, {how}",
                    app["duplicates"],
                    bare["duplicates"],
                    with_ratio=False,
                    tgt=target(f"duplicates, {how}", app["duplicates"], "==", 0),
                ),
                figure(
                    f"missing, {how}",
                    app["missing"],
                    bare["missing"],
                    with_ratio=False,
                    tgt=target(f"missing, {how}", app["missing"], "==", 0),
                ),
                figure(f"the sink's own ceiling/s, {how}", None, ceiling["per_s"], with_ratio=False),
            ]
        figures += [
            figure("emails/s, per email (a connection each)", None, per_email["per_s"], with_ratio=False),
            figure("emails/s, per email (one connection)", None, per_email_reused["per_s"], with_ratio=False),
        ]
        result = {
            "title": "fan-out",
            "figures": figures,
            "recipients": len(expected),
            "bare_recipients": len(sample),
            "workers": workers,
            "one_by_one": runs[False],
            "pipelined": runs[True],
            "bare_per_email": per_email,
            "bare_per_email_one_connection": per_email_reused,
        }
        if self.should_profile(figures[:1]):
            result["profile"] = self.profiled(self.profile_fanout, big)
        self.stack.sink_command("reset")
        return result

    def sink_ceiling(self, senders: int, seconds: float, pipelined: bool) -> dict:
        """The sink's own rate, in this run: ``senders`` processes with a connection each."""
        from bench import sink_ceiling

        self.stack.sink_command("reset")
        result = sink_ceiling.measure(
            self.mail_port,
            self.stack.sink.popen.pid,
            senders,
            seconds,
            lambda: self.stack.sink_command("stats"),
            pipelined=pipelined,
        )
        self.stack.sink_command("reset")
        return result

    def app_fanout(self, start, expected: set[str], workers: int) -> dict:
        """Real RQ workers running the batch jobs that ``start()`` (a fan_out) enqueues."""
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry

        from campaign.queue import get_queue

        self.stack.sink_command("reset")
        procs = self.stack.start_workers(workers, name="fanout-worker")
        self.wait_for_workers(len(self.pool) + workers)
        meter = CpuMeter(self.cpu_groups())
        started = time.time()
        batches = start()
        self.db.session.commit()
        deadline = time.monotonic() + self.sizes.fanout_timeout
        last, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            stats = self.stack.sink_command("stats")
            if stats["messages"] >= len(expected) and self.queue_length("bulk") == 0:
                break
            if stats["messages"] != last:
                last, last_change = stats["messages"], time.monotonic()
            elif time.monotonic() - last_change > 30:
                break  # stalled
            time.sleep(0.25)
        app = self.mail_outcome(expected, started)
        app["cores_used"] = meter.cores(time.time() - started)
        app["cores_used"].pop("wrk", None)
        app["batches"] = batches
        app["failed_jobs"] = FailedJobRegistry(queue=get_queue("bulk")).count
        # A job that raised waits for its retry (MAIL_RETRY) here, not in the failed registry.
        app["jobs_waiting_to_retry"] = ScheduledJobRegistry(queue=get_queue("bulk")).count
        app["load_average"] = [round(x, 2) for x in os.getloadavg()]
        for proc in procs:
            self.stack.forget(proc)
        self.wait_for_workers(len(self.pool))
        return app

    def bare_fanout(
        self,
        ids_file: Path,
        expected: set[str],
        workers: int,
        reuse: bool = False,
        mode: str = "fanout",
        tag: str = "",
    ) -> dict:
        self.stack.sink_command("reset")
        meter = CpuMeter({**self.cpu_groups(), "bare fan-out": []})
        started = time.time()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.bare_jobs",
                    mode,
                    str(ids_file),
                    str(self.mail_port),
                    str(k),
                    str(workers),
                    *(["reuse"] if reuse else []),
                    *([tag] if tag else []),
                ],
                env=self.stack.env,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for k in range(workers)
        ]
        for p in procs:
            p.communicate(timeout=self.sizes.fanout_timeout)
        outcome = self.mail_outcome(expected, started)
        outcome["cores_used"] = meter.cores(time.time() - started)
        outcome["cores_used"]["bare fan-out"] = outcome["cores_used"].pop("wrk", 0.0)
        outcome["load_average"] = [round(x, 2) for x in os.getloadavg()]
        return outcome

    def mail_outcome(self, expected: set[str], started: float) -> dict:
        """Emails the sink got for the expected recipients: rate, duplicates, missing."""
        stats = self.stack.sink_command("stats")
        received = self.stack.sink_recipients()
        emails = sum(n for rcpt, n in received.items() if rcpt in expected)
        seconds = (stats["last_at"] - started) if stats["last_at"] else None
        outcome = {
            "emails": emails,
            "seconds": round(seconds, 2) if seconds else None,
            "per_s": round(emails / seconds) if seconds else None,
            "duplicates": sum(n - 1 for rcpt, n in received.items() if n > 1 and rcpt in expected),
            "missing": len(expected - set(received)),
            "other_emails": stats["messages"] - emails,
        }
        if outcome["missing"] or outcome["other_emails"]:
            # Which: a missing recipient that arrived under a mangled address (the sink misread
            # a message) reads close to one of the others; an unrelated email does not.
            outcome["missing_recipients"] = sorted(expected - set(received))[:20]
            outcome["other_recipients"] = sorted(set(received) - expected)[:20]
            # A message the sink counted whole without being able to read its recipients (the
            # missing one's, if it is the only one), and what the app recorded of each missing
            # email: a receipt marked sent means the server took it.
            outcome["messages_without_recipient"] = stats.get("without_recipient", 0)
            if stats.get("without_recipient_sample"):
                outcome["without_recipient_sample"] = stats["without_recipient_sample"]
            outcome["missing_receipts"] = self.receipts_of(outcome["missing_recipients"])
        if outcome["duplicates"]:
            # What the second emails were: the same message again (its Message-ID: the same
            # receipt sent twice), or other messages, by subject.
            rows = [row for row in self.stack.sink_messages() if row[0] in expected]
            outcome["same_message_again"] = sum(n - 1 for *_, n in rows if n > 1)
            subjects = Counter(subject for _, _, subject, n in rows for _ in range(n))
            outcome["subjects"] = dict(subjects.most_common(5))
        return outcome

    def receipts_of(self, recipients: list[str]) -> dict[str, list[str]]:
        """What the app's receipts say of the emails to ``recipients``: for each, its receipts
        as "sent", "refused: <the server's answer>" or "claimed, not marked" (none: never
        claimed). The bare ceiling's senders keep none."""
        from sqlalchemy import select

        from campaign.models import MailReceipt

        said: dict[str, list[str]] = {recipient: [] for recipient in recipients}
        if recipients:
            rows = self.db.session.execute(
                select(MailReceipt.recipient, MailReceipt.error, MailReceipt.sent_at).where(
                    MailReceipt.recipient.in_(recipients)
                )
            ).all()
            self.db.session.rollback()
            for recipient, error, sent_at in rows:
                state = f"refused: {error}" if error else "sent" if sent_at else "claimed, not marked"
                said.setdefault(recipient, []).append(state)
        return said

    def settle(self) -> None:
        """Let the running workers finish what earlier scenarios left to do (milestone
        notices, folds, a delivery's notice to its supporters), so the next scenario
        measures only its own work. A notice to the big petition's 100,000 consenting
        supporters takes a minute or two: the wait is as long as a fan-out's, and what is
        still unfinished then is logged and kept with the results (a full run once counted
        36,219 emails of the delivery's notice as the fan-out's duplicates, its wait having
        stopped at a minute)."""
        self.start_pool()
        deadline = time.monotonic() + self.sizes.fanout_timeout
        said = False
        while unfinished := self.unfinished_work():
            if time.monotonic() > deadline:
                self.log(f"  still unfinished, the next figures include it: {unfinished}")
                self.results.setdefault("unsettled", []).append(unfinished)
                return
            if not said:
                self.log(f"  waiting for what earlier scenarios left to do: {unfinished}")
                said = True
            time.sleep(0.25)

    def unfinished_work(self) -> dict[str, int]:
        """Jobs queued or running, and outbox rows (notices, fan-out batches) not done."""
        from rq.registry import StartedJobRegistry

        from campaign.models import FanoutBatch, Notice
        from campaign.queue import get_queue

        work = {}
        for name in ("high", "default", "bulk"):
            queue = get_queue(name)
            work[f"{name} jobs"] = queue.count + StartedJobRegistry(queue=queue).count
        self.db.session.rollback()  # a new snapshot
        for model in (Notice, FanoutBatch):
            work[model.__tablename__] = self.db.session.execute(
                select(func.count()).select_from(model).where(model.done_at.is_(None))
            ).scalar_one()
        self.db.session.rollback()
        return {what: n for what, n in work.items() if n}

    def profile_fanout(self, campaign_id: int) -> dict:
        """Workers sending an update to the same recipients, with py-spy attached, briefly."""
        from campaign.jobs.notify import fan_out
        from campaign.models import Update

        seconds = self.sizes.profile_seconds
        self.log(f"  profiling fan-out with py-spy ({seconds:.0f} s)…")
        item = Update(
            campaign_id=campaign_id,
            author_id=self.campaigns.organiser_id,
            title="Profiling update",
            body="Thank you all.",
        )
        self.db.session.add(item)
        self.db.session.commit()
        procs = self.stack.start_workers(self.sizes.fanout_workers, name="profile-worker")
        self.wait_for_workers(len(self.pool) + len(procs))
        fan_out("update", item.id, campaign_id)
        self.db.session.commit()
        recorders = profiling.start([p.pid for p in procs], seconds, self.results_dir / "profiles", "fanout")
        result = profiling.finish(recorders) if recorders else {"error": "py-spy is not installed"}
        for proc in procs:
            self.stack.forget(proc)
        self.wait_for_workers(len(self.pool))
        self.empty_queue("bulk")
        self.stack.sink_command("reset")
        return result

    def exactness(self) -> dict:
        """After every scenario: each cached count (and its counts per country and per day)
        equals COUNT(*) of its confirmed supports."""
        self.log("Exactness…")
        from campaign.models import Campaign, CountDelta, CountryCount, DailyCount
        from campaign.services.counting import exact_counts

        self.start_pool()
        deadline = time.monotonic() + 60
        pending = None
        while time.monotonic() < deadline:
            pending = self.db.session.execute(select(func.count()).select_from(CountDelta)).scalar_one()
            self.db.session.commit()
            if pending == 0:
                break
            time.sleep(0.25)
        exact, exact_days, _ = exact_counts()
        # The search scenario's campaigns carry made-up counts with no supports behind them.
        cached = dict(
            self.db.session.execute(
                select(Campaign.id, Campaign.confirmed_count).where(~Campaign.slug.like("sb-%"))
            ).all()
        )
        by_country: dict[int, dict[str, int]] = {}
        for cid, country, n in self.db.session.execute(
            select(CountryCount.campaign_id, CountryCount.country, CountryCount.count)
        ):
            if n:
                by_country.setdefault(cid, {})[country] = n
        by_day: dict[int, dict] = {}
        for cid, day, n in self.db.session.execute(
            select(DailyCount.campaign_id, DailyCount.day, DailyCount.count)
        ):
            if n:
                by_day.setdefault(cid, {})[day] = n
        self.db.session.commit()
        names = {cid: name for name, cid in self.campaigns.ids.items()}
        campaigns = []
        for cid in sorted(cached):
            exact_total = sum(exact.get(cid, {}).values())
            campaigns.append(
                {
                    "campaign": names.get(cid, cid),
                    "cached": cached[cid],
                    "count_star": exact_total,
                    "countries_equal": by_country.get(cid, {})
                    == {k: v for k, v in exact.get(cid, {}).items() if v},
                    "days_equal": by_day.get(cid, {}) == exact_days.get(cid, {}),
                    "equal": cached[cid] == exact_total,
                }
            )
        equal = pending == 0 and all(
            c["equal"] and c["countries_equal"] and c["days_equal"] for c in campaigns
        )
        total_cached = sum(cached.values())
        total_exact = sum(c["count_star"] for c in campaigns)
        jobs = self.background_jobs()
        recount_ratio = ratio(jobs["recount_ms"], jobs["bare_recount_ms"])
        figures = [
            figure(
                "cached count = COUNT(*)", equal, with_ratio=False, tgt=target("equal", equal, "==", True)
            ),
            figure("sum of cached counts", total_cached, with_ratio=False),
            figure("sum of COUNT(*)", total_exact, with_ratio=False),
            figure(
                f"recount of the {jobs['supports']:,}-support campaign, ms (bare: its one grouped read)",
                jobs["recount_ms"],
                jobs["bare_recount_ms"],
                tgt=target("recount/bare", recount_ratio, "<=", 1.5),
            ),
            figure("recount's drift found", jobs["drifted"], with_ratio=False),
            figure(
                "momentum refresh ms, its first run (re-basing seeded momentum)", jobs["refresh_first_ms"]
            ),
            figure("momentum refresh ms, as the clock finds it", jobs["refresh_ms"]),
        ]
        return {
            "title": "exactness",
            "figures": figures,
            "campaigns": campaigns,
            "deltas_left": pending,
            "background_jobs": jobs,
        }

    def background_jobs(self, rounds: int = 3) -> dict:
        """The clock's jobs the run leaves out (:meth:`Stack.start_clock`), timed once every
        count is settled, in this process: the nightly recount of the biggest campaign against
        its bare ceiling, the grouped read of the campaign's counted supports (per country and
        per day, with the spend) that no recount can skip, in turns (bare, recount); then the
        momentum refresh: its first run re-bases the momentum the search scenario's campaigns
        were seeded with (no support backs it: tens of thousands set to 0), the others, after
        the ``ANALYZE`` autovacuum would make of so many changed rows, cost what the clock's
        every ten minutes do. Medians of ``rounds``."""
        from campaign.services.counting import exact_counts, recount, refresh_momentum

        big = self.campaigns.ids["big"]
        session = self.db.session

        def timed(work) -> tuple[float, object]:
            started = time.perf_counter()
            result = work()
            session.commit()
            return (time.perf_counter() - started) * 1000, result

        bare, counted, drifted = [], [], {}
        for _ in range(rounds):
            bare.append(timed(lambda: exact_counts(big))[0])
            ms, found = timed(lambda: recount(big))
            counted.append(ms)
            drifted.update(found)
        first, _ = timed(refresh_momentum)
        # Autovacuum analyzes a table after a change of a fifth of its rows, as the first run
        # makes: done here, so the next runs are planned as they would be ten minutes on.
        timed(lambda: session.execute(text("ANALYZE campaigns")))
        later = [timed(refresh_momentum)[0] for _ in range(rounds)]
        return {
            "campaign": "big",
            "supports": self.count_supports("big", confirmed=True),
            "recount_ms": round(statistics.median(counted), 1),
            "bare_recount_ms": round(statistics.median(bare), 1),
            "recount_runs_ms": [round(ms, 1) for ms in counted],
            "bare_runs_ms": [round(ms, 1) for ms in bare],
            "drifted": len(drifted),
            "refresh_first_ms": round(first, 1),
            "refresh_ms": round(statistics.median(later), 1),
        }


class CpuMeter:
    """CPU seconds used by named process trees (and by wrk, the only child reaped meanwhile)."""

    #: The groups whose processes (gunicorn's workers) are also told apart, one by one.
    SPLIT = ("web", "bare")

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.before = {name: _tree_cpu(pids, skip_self=(name == "bench")) for name, pids in groups.items()}
        self.children_before = _children_cpu()
        self.workers_before = self._workers_cpu()

    def _workers_cpu(self) -> dict[str, dict[int, float]]:
        """Each gunicorn worker's CPU seconds so far, by group and process id."""
        cpu: dict[str, dict[int, float]] = {}
        for name in self.SPLIT:
            for pid in self.groups.get(name, []):
                try:
                    workers = psutil.Process(pid).children()
                except psutil.Error:
                    continue
                for worker in workers:
                    try:
                        t = worker.cpu_times()
                    except psutil.Error:
                        continue
                    cpu.setdefault(name, {})[worker.pid] = t.user + t.system
        return cpu

    def workers(self, seconds: float) -> dict[str, list[float]]:
        """The cores each worker used meanwhile, by group, busiest first: two workers that
        share a load unevenly (the kernel spreads the connections over them) show it here."""
        if not seconds:
            return {}
        after = self._workers_cpu()
        return {
            name: sorted(
                (
                    round((cpu - self.workers_before[name][pid]) / seconds, 2)
                    for pid, cpu in now.items()
                    if pid in self.workers_before.get(name, {})
                ),
                reverse=True,
            )
            for name, now in after.items()
        }

    def cores(self, seconds: float) -> dict[str, float]:
        if not seconds:
            return {}
        used = {
            name: _tree_cpu(pids, skip_self=(name == "bench")) - self.before[name]
            for name, pids in self.groups.items()
        }
        used["wrk"] = _children_cpu() - self.children_before
        return {name: round(max(0.0, v) / seconds, 2) for name, v in used.items()}


def _tree_cpu(pids: list[int], skip_self: bool = False) -> float:
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            if skip_self and proc.pid != pid:
                continue  # the bench's own children are the servers, counted on their own
            try:
                t = proc.cpu_times()
                total += t.user + t.system
                if not skip_self:  # children that ended and were reaped: RQ work-horses,
                    total += t.children_user + t.children_system  # PostgreSQL backends
            except psutil.Error:
                pass
    return total


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CountPoller(threading.Thread):
    """Polls count.json (over HTTP, as a watcher would) and keeps (time, count) samples."""

    def __init__(self, port: int, path: str, interval: float = 0.1):
        super().__init__(daemon=True)
        self.port, self.path, self.interval = port, path, interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def read(self) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", self.path)
            return json.loads(conn.getresponse().read())["count"]
        finally:
            conn.close()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                count = self.read()
                self.samples.append((time.time(), count))
            except (OSError, ValueError, KeyError):
                pass
            self._stop_event.wait(self.interval)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.samples and self.samples[-1][1] >= count:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def fetch(port: int, path: str) -> int:
    """One GET on loopback, its status (a fresh connection, read to the end)."""
    return _get(port, path)[0]


def fetch_body(port: int, path: str) -> bytes:
    """One GET on loopback that must answer 200: its body."""
    status, body = _get(port, path)
    if status != 200:
        raise RuntimeError(f"GET {path} on port {port} answered {status}")
    return body


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def p50_ratio(big: loadgen.Load, small: loadgen.Load) -> float | None:
    """The ratio of two loads' median latencies; None when the smaller had no answer (a smoke
    run's one-second load on a busy machine)."""
    if not small.latency_ms["p50"]:
        return None
    return round(big.latency_ms["p50"] / small.latency_ms["p50"], 3)


def lag_seconds(confirmed_at: list[float], samples: list[tuple[float, int]], base: int) -> list[float]:
    """For the k-th confirmation: the first sample whose count rose by k, minus its time."""
    lags = []
    j = 0
    for k, at in enumerate(sorted(confirmed_at), start=1):
        while j < len(samples) and samples[j][1] - base < k:
            j += 1
        if j == len(samples):
            break
        lags.append(max(0.0, samples[j][0] - at))
    return lags


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


class TreeSampler(threading.Thread):
    """The peak resident memory of a process and of each of its children (an RQ work-horse).

    Reads the kernel's high-water mark (``VmHWM`` in /proc/PID/status) every 20 ms: the peak
    since the process started, so a late sample still sees an earlier peak. (``ru_maxrss``
    from ``wait4`` would not do: across fork and exec it keeps the parent's, this bench's, size.)
    """

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self.peaks: dict[int, float] = {}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            pids = [self.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            return
        for pid in pids:
            peak = _vm_hwm_mb(pid)
            if peak:
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak)
                self.peak_mb = max(self.peak_mb, peak)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(0.02)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def _vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measured(args: list[str], env: dict) -> dict:
    """Run a process to its end; its JSON output plus its peak RSS (``maxrss_mb``)."""
    popen = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    sampler = TreeSampler(popen.pid)
    sampler.start()
    out, _ = popen.communicate()
    sampler.stop()
    if popen.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed with {popen.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["maxrss_mb"] = round(sampler.peak_mb, 1)
    return result


def sizes_with(sizes: Sizes, **changes) -> Sizes:
    return replace(sizes, **{k: v for k, v in changes.items() if v is not None})


def _score_shapes(trials: list[dict]) -> list[dict]:
    """Each shape of ``trials`` (a shape may have several) with the mean of its trials'
    signatures/s and count.json/s, whether every trial of it was good (no errors, sign p99 ≤
    100 ms) and its score: its signatures/s over the best good shape's plus its count.json/s
    over the best good shape's (all shapes' when none is good)."""
    shapes: dict[tuple, list[dict]] = {}
    for t in trials:
        shapes.setdefault((t["worker_class"], t["workers"], t["threads"]), []).append(t)
    scored = [
        {
            "worker_class": worker_class,
            "workers": workers,
            "threads": threads,
            "trials": len(runs),
            "per_s": round(statistics.mean(t["per_s"] for t in runs), 1),
            "count_json_per_s": round(statistics.mean(t["count_json"]["per_s"] for t in runs), 1),
            "good": all(
                t["errors"] == 0 and t["p99_ms"] <= 100 and t["count_json"]["errors"] == 0 for t in runs
            ),
        }
        for (worker_class, workers, threads), runs in shapes.items()
    ]
    pool = [t for t in scored if t["good"]] or scored
    best_sign = max(t["per_s"] for t in pool) or 1
    best_count = max(t["count_json_per_s"] for t in pool) or 1
    for t in scored:
        t["score"] = round(t["per_s"] / best_sign + t["count_json_per_s"] / best_count, 3)
    return scored
