"""The chaos run: ``python -m tests.system.chaos.run [--size small|full] [--out PATH]``.

Three waves of load against the production shape, each with its faults:

1. **signing**: distinct supporters POST the real sign form (wrk, over loopback) to a hot
   petition and a second one, while RQ workers are SIGKILLed mid-job (confirmation emails,
   folds) and Redis is restarted cleanly (SIGTERM: the AOF is flushed);
2. **confirming**: nine in ten open their emailed confirmation link (Python clients, each
   answer kept by support), so milestones are crossed, the goals reached, the goal notices
   fanned out and the first round delivered, while a transaction holds the hot campaign's row
   lock while folds run side by side, Redis is SIGKILLed (up to a second of its writes lost),
   PostgreSQL is restarted and workers are SIGKILLed (the last only its main process, leaving
   the work-horse to finish its job);
3. **second round**: more supporters sign and confirm, the organiser asks for a second
   delivery round, and workers are killed while it and the fan-out run.

Then recovery (the sweeper and RQ's registry repair, bounded in time) and the checks. Every
answer of every request is kept with its time: a 5xx outside an outage window fails the run,
and inside one only 503 is allowed. Everything runs on loopback; everything started is
stopped, by process id (and by session, for work-horses and schedulers), also on failure.

The small size (``make test``) has 200 supporters and spreads waves 1 and 2 over 12 s each, so
that each of their faults meets supporters signing or confirming; it kills one whole worker in
each of waves 1 and 2 and one main process, and none in wave 3. The full size (``make
chaos``) has 3,500 supporters, as fast as the server takes them, and kills three workers in
each wave. The run cannot end sooner than RQ notices the last whole worker killed: its job is
retried once its heartbeat is a minute overdue.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import loadgen
from bench.stack import Proc, Stack, free_port

HERE = Path(__file__).resolve().parent
TIMELINE_SCRIPT = HERE / "timeline.lua"
GRACE_SECONDS = 3.0  # after a service is back, connections in pools are renewed
FAILED_FOR_GOOD = "failed for good (RQ's failed registry)"


@dataclass(frozen=True)
class Size:
    name: str
    hot_signers: int
    second_signers: int
    extra_signers: int  # wave 3, for the second delivery round
    hot_goal: int
    second_goal: int
    rq_workers: int
    kills: dict  # wave -> whole-worker kills (main process, work-horse and scheduler)
    main_only_kills: int  # in wave 2: only the main process, the work-horse left running
    prefer_seconds: float  # in wave 2, how long a kill waits for a milestone or fan-out job
    # Waves 1 and 2 spread their supporters over at least this long, so that every fault of
    # the wave meets them (0: as fast as the server answers; the full run's waves outlast
    # their faults anyway).
    span_seconds: float
    lock_seconds: float
    sweep_every_seconds: int  # the sweeper's period and the age of work it calls lost: short,
    sweep_after_seconds: int  # so that recovery fits in the run
    recovery_seconds: float
    deadline_seconds: float  # the whole run, startup included


SIZES = {
    "small": Size(
        "small",
        hot_signers=140,
        second_signers=40,
        extra_signers=20,
        hot_goal=80,
        second_goal=25,
        rq_workers=3,
        kills={"signing": 1, "confirming": 1, "second round": 0},
        main_only_kills=1,
        prefer_seconds=6,
        span_seconds=18,
        lock_seconds=2,
        sweep_every_seconds=5,
        sweep_after_seconds=10,
        recovery_seconds=150,
        deadline_seconds=360,
    ),
    "full": Size(
        "full",
        hot_signers=2_400,
        second_signers=600,
        extra_signers=500,
        hot_goal=1_200,
        second_goal=300,
        rq_workers=4,
        kills={"signing": 3, "confirming": 3, "second round": 3},
        main_only_kills=1,
        prefer_seconds=25,
        span_seconds=0,
        lock_seconds=5,
        sweep_every_seconds=10,
        sweep_after_seconds=15,
        recovery_seconds=300,
        deadline_seconds=1_200,
    ),
}


@dataclass
class Answer:
    at: float
    status: int
    what: str


@dataclass
class Figures:
    size: str
    seconds: float = 0.0
    signed: dict = field(default_factory=dict)  # campaign -> POSTs sent
    statuses: dict = field(default_factory=dict)  # what -> {status: n}
    kills: list = field(default_factory=list)
    restarts: dict = field(default_factory=dict)
    outages: list = field(default_factory=list)
    emails: dict = field(default_factory=dict)
    jobs: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    recovery_seconds: float = 0.0
    lock_contention: dict = field(default_factory=dict)
    goals: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)


class Chaos:
    def __init__(self, size: Size, stack: Stack, log=print):
        self.size = size
        self.stack = stack
        self.log = log
        self.figures = Figures(size.name)
        self.answers: list[Answer] = []
        self.answers_lock = threading.Lock()
        self.workers: list[Proc] = []
        self.sessions: set[int] = set()  # session ids of every process we started
        self.stop = threading.Event()
        self.acknowledged_confirmations: set[int] = set()
        self.scratch = stack.dir / "chaos"
        self.scratch.mkdir()
        self.next_address = 0
        self.started = time.monotonic()

    # ================================================================== the stack

    def setup(self) -> None:
        s = self.stack
        self.log("Starting PostgreSQL, Redis (AOF everysec) and the SMTP sink…")
        s.start_postgres()
        s.start_redis()
        self.mail_port = s.start_sink()
        self.web_port = free_port()
        env = s.configure_app(self.mail_port, self.web_port)
        # Sweep often and call work lost soon, so recovery fits in the run; a batch of
        # confirmation emails claimed by a killed worker is taken again after 30 s.
        env.update(
            SWEEP_EVERY_SECONDS=str(self.size.sweep_every_seconds),
            SWEEP_AFTER_SECONDS=str(self.size.sweep_after_seconds),
            CONFIRMATION_CLAIM_SECONDS="30",
        )
        os.environ.update(env)
        migrated = s.flask_in_background("db", "upgrade")
        from campaign import create_app  # imported while the migrations run

        self.app = create_app()
        migrated()
        self._ctx = self.app.app_context()
        self._ctx.push()
        from bench import seed
        from campaign.extensions import db
        from campaign.models import User

        self.db = db
        self.campaigns = seed.seed_base({"hot": self.size.hot_goal, "second": self.size.second_goal})
        organiser = db.session.get(User, self.campaigns.organiser_id)
        if hasattr(organiser, "email_frequency"):  # milestone emails at once, not in a digest
            from campaign.models import EmailFrequency

            organiser.email_frequency = EmailFrequency.IMMEDIATELY
        db.session.commit()
        self.organiser_email = organiser.email
        self.log(
            f"Starting gunicorn (2 workers × 4 threads), {self.size.rq_workers} RQ workers and the clock…"
        )
        # The workers and the clock start while gunicorn does (only gunicorn is waited for).
        for _ in range(self.size.rq_workers):
            self.start_worker()
        clock = s.start_clock()
        self.sessions.add(clock.pid)
        web = s.start_web("web", "wsgi:app", self.web_port, workers=2, threads=4)
        self.sessions.add(web.pid)
        self.sessions.update(p.pid for p in s.procs)

    def start_worker(self) -> Proc:
        [proc] = self.stack.start_workers(1, name=f"worker-{len(self.workers)}")
        self.workers.append(proc)
        self.sessions.add(proc.pid)
        return proc

    def close(self) -> None:
        """Stop what the run started, including work-horses and schedulers left by killed
        workers (they keep the session of the worker that forked them)."""
        self.stop.set()
        for proc in list(self.stack.procs):
            self.sessions.add(proc.pid)
        kill_sessions(self.sessions)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check_deadline(self) -> None:
        if self.elapsed() > self.size.deadline_seconds:
            raise TimeoutError(f"the chaos run passed its {self.size.deadline_seconds:.0f} s bound")

    # ================================================================== load

    def record(self, status: int, what: str, at: float | None = None) -> None:
        with self.answers_lock:
            self.answers.append(Answer(at if at is not None else time.time(), status, what))

    def sign_wave(self, name: str, counts: dict[str, int], span: float = 0) -> threading.Thread:
        """wrk POSTs the sign form for ``counts`` new supporters per campaign, in a thread;
        ``span``: spread over at least that many seconds."""
        from bench import supporters

        path = self.scratch / f"{name}.tsv"
        per_campaign = []
        for campaign, n in counts.items():
            first = self.next_address
            self.next_address += n
            per_campaign.append(
                list(
                    supporters.sign_requests(
                        self.app,
                        self.campaigns.slugs[campaign],
                        f"{name}-{campaign}",
                        n,
                        first,
                        f"http://127.0.0.1:{self.web_port}",
                    )
                )
            )
            self.figures.signed[campaign] = self.figures.signed.get(campaign, 0) + n
        # Interleaved, so every campaign is signed all through the wave.
        requests = [r for group in itertools.zip_longest(*per_campaign) for r in group if r]
        loadgen.write_requests(path, requests)
        timeline = self.scratch / f"{name}.timeline"
        total = len(requests)
        connections = 8

        def stop_when_answered() -> None:
            # wrk stays for all of -d even once its requests are used up: once every request
            # is answered, SIGINT ends it (it still prints its summary). A wrk thread stops as
            # soon as its share is sent out, leaving the answers its other connections still
            # wait for unread: once every thread has stopped, wrk is ended too.
            threaded: set[int] = set()
            while thread.is_alive():
                answered = sum(
                    len(f.read_bytes().splitlines()) for f in self.scratch.glob(f"{name}.timeline.*")
                )
                for pid in child_pids("wrk"):
                    try:
                        threads = len(os.listdir(f"/proc/{pid}/task"))
                    except OSError:
                        continue
                    if threads > 1:
                        threaded.add(pid)
                    if answered >= total or (pid in threaded and threads == 1):
                        os.kill(pid, signal.SIGINT)
                time.sleep(0.2)

        def run() -> None:
            env = {
                "CHAOS_TIMELINE": str(timeline),
                "CHAOS_REPLAY": str(Path(loadgen.SCRIPT).resolve()),
                # Each connection waits this long before each request (see timeline.lua).
                "CHAOS_DELAY_MS": str(round(span * 1000 * connections / total)),
            }
            os.environ.update(env)
            threading.Thread(target=stop_when_answered, daemon=True).start()
            try:
                load = loadgen.run(
                    f"http://127.0.0.1:{self.web_port}/",
                    seconds=60 + total / 10,
                    connections=connections,
                    threads=2,
                    requests_file=path,
                    expected=(303,),
                    timeout_s=30,
                    script=TIMELINE_SCRIPT,
                )
                self.figures.statuses[f"sign ({name}), wrk"] = {
                    "answers": load.answered,
                    "socket_errors": load.socket_errors,
                }
            except Exception as exc:  # noqa: BLE001 - reported as a failed check
                self.figures.errors.append(f"wrk ({name}): {exc!r}")
            for part in sorted(self.scratch.glob(f"{name}.timeline.*")):
                for line in part.read_text().splitlines():
                    at, status = line.split()
                    self.record(int(status), "sign", float(at))

        thread = threading.Thread(target=run, name=f"wrk-{name}", daemon=True)
        thread.start()
        return thread

    def confirm_wave(
        self, campaign_names: list[str], clients: int = 4, span: float = 0
    ) -> list[threading.Thread]:
        """Open the confirmation link of nine in ten pending supports (every tenth stays
        pending: its email must still go out), from ``clients`` threads, spread over at least
        ``span`` seconds."""
        from sqlalchemy import select

        from campaign.jobs.supports import support_token
        from campaign.models import Support

        ids = [self.campaigns.ids[c] for c in campaign_names]
        pending = (
            self.db.session.execute(
                select(Support)
                .where(Support.campaign_id.in_(ids), Support.confirmed_at.is_(None))
                .order_by(Support.id)
            )
            .scalars()
            .all()
        )
        work: queue.Queue = queue.Queue()
        for i, support in enumerate(pending):
            if i % 10 != 9:
                work.put((support.id, f"/supports/confirm/{support_token('confirm-support', support)}"))
        self.db.session.commit()
        pace = span * clients / max(1, work.qsize())  # seconds per confirmation and client

        def client() -> None:
            conn = None
            while not self.stop.is_set():
                try:
                    support_id, path = work.get_nowait()
                except queue.Empty:
                    return
                started = time.monotonic()
                for _attempt in range(20):  # a person reloads a 503 page until it works
                    try:
                        conn = conn or http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=30)
                        conn.request("GET", path)
                        response = conn.getresponse()
                        body = response.read()
                    except OSError:
                        conn = None
                        self.record(0, "confirm")
                        time.sleep(0.5)
                        continue
                    self.record(response.status, "confirm")
                    if response.status == 200 and b"onfirmed" in body:
                        with self.answers_lock:
                            self.acknowledged_confirmations.add(support_id)
                        break
                    time.sleep(0.5)
                self.stop.wait(max(0.0, started + pace - time.monotonic()))

        threads = [threading.Thread(target=client, name=f"confirm-{i}", daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        return threads

    def watch(self) -> threading.Thread:
        """A visitor refreshing the hot campaign's count and page all through the run."""
        slug = self.campaigns.slugs["hot"]
        paths = [(f"/api/v1/campaigns/{slug}/count.json", "count.json"), (f"/petitions/{slug}", "page")]

        def run() -> None:
            conn, i = None, 0
            while not self.stop.is_set():
                path, what = paths[i % 2]
                i += 1
                try:
                    conn = conn or http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=30)
                    conn.request("GET", path)
                    response = conn.getresponse()
                    response.read()
                    self.record(response.status, what)
                except OSError:
                    conn = None
                    self.record(0, what)
                time.sleep(0.1)

        thread = threading.Thread(target=run, name="watcher", daemon=True)
        thread.start()
        return thread

    # ================================================================== faults

    def busy_workers(self) -> list[tuple[Proc, str]]:
        """Our workers that are running a job now, with the job's function name."""
        from rq import Worker
        from rq.job import Job
        from rq.serializers import JSONSerializer

        from campaign.queue import redis_connection

        by_pid = {p.pid: p for p in self.workers if p.alive()}
        busy = []
        conn = redis_connection()
        try:
            for w in Worker.all(connection=conn):
                job_id = w.get_current_job_id() if w.pid in by_pid else None
                if job_id and w.get_state() == "busy":
                    try:
                        func = Job.fetch(job_id, connection=conn, serializer=JSONSerializer).func_name
                    except Exception:  # noqa: BLE001 - finished and gone meanwhile
                        continue
                    busy.append((by_pid[w.pid], func))
        except Exception:  # noqa: BLE001 - Redis may be down: nobody is busy for us then
            return []
        return busy

    def kill_worker(
        self,
        wave: str,
        main_only: bool = False,
        prefer: tuple[str, ...] = (),
        wait: float = 20,
        grace: float = 20,
    ) -> None:
        """SIGKILL a worker in the middle of a job, then start a replacement.

        For ``wait`` seconds only a job named in ``prefer`` will do (any in the last three),
        then any job for ``grace`` seconds more: late in a wave the jobs left are folds and
        sweeps of a few milliseconds, so the work-horses are looked for in /proc every 5 ms
        and RQ is asked what they run only when one is there."""
        start = time.monotonic()
        choice = None
        while time.monotonic() < start + wait + grace and not self.stop.is_set():
            if not any(horse_of(p.pid) for p in self.workers if p.alive()):
                time.sleep(0.005)
                continue
            busy = [(p, f) for p, f in self.busy_workers() if horse_of(p.pid) is not None]
            preferred = [(p, f) for p, f in busy if any(name in f for name in prefer)]
            if preferred or (busy and time.monotonic() > start + wait - min(3.0, wait / 2)):
                choice = (preferred or busy)[0]
                break
            time.sleep(0.005)
        if choice is None:
            self.figures.errors.append(f"no busy worker to kill in wave {wave} within {wait + grace:.0f} s")
            return
        proc, func = choice
        horse = horse_of(proc.pid)
        if main_only:
            os.kill(proc.pid, signal.SIGKILL)  # the work-horse lives on and finishes its job
        else:
            os.killpg(proc.pid, signal.SIGKILL)  # the main process and its scheduler
            if horse is not None:
                try:
                    os.kill(horse, signal.SIGKILL)  # the work-horse has its own process group
                except ProcessLookupError:
                    pass
        proc.popen.wait(10)
        self.workers.remove(proc)
        self.stack.procs.remove(proc)
        self.figures.kills.append(
            {
                "wave": wave,
                "at_s": round(self.elapsed(), 1),
                "job": func,
                "what": "main process only" if main_only else "worker and work-horse",
            }
        )
        self.log(f"  SIGKILL {'main process of' if main_only else ''} worker {proc.pid} running {func}")
        self.start_worker()
        self.restarted("rq worker")
        time.sleep(1)  # spread the kills over the wave

    def restarted(self, what: str) -> None:
        self.figures.restarts[what] = self.figures.restarts.get(what, 0) + 1

    def restart_redis(self, sig: int) -> None:
        name = "SIGKILL" if sig == signal.SIGKILL else "clean restart (SIGTERM)"
        start = time.time()
        self.stack.stop_redis(sig)
        time.sleep(1.5)  # down for a moment, as a restart or a crash and respawn is
        self.stack.start_redis()
        self.sessions.update(p.pid for p in self.stack.procs if p.name == "redis")
        end = time.time()
        self.figures.outages.append(
            {
                "what": f"Redis {name}",
                "from": start,
                "to": end + GRACE_SECONDS,
                "down_s": round(end - start, 2),
            }
        )
        self.restarted(f"redis ({'after SIGKILL' if sig == signal.SIGKILL else 'clean'})")
        self.log(f"  Redis {name}: down {end - start:.1f} s")

    def restart_postgres(self) -> None:
        start = time.time()
        self.stack.restart_postgres("fast")
        end = time.time()
        self.figures.outages.append(
            {
                "what": "PostgreSQL restart (fast)",
                "from": start,
                "to": end + GRACE_SECONDS,
                "down_s": round(end - start, 2),
            }
        )
        self.restarted("postgresql")
        self.log(f"  PostgreSQL restarted: {end - start:.1f} s")

    def hold_hot_campaign(self) -> None:
        """Contention on the hot campaign: a transaction holds its row (as an organiser's edit
        or a moderator's action would) while three folds run side by side, bypassing the fold
        lock; signing and confirming go on meanwhile. It waits for the first confirmations, so
        that there are deltas to fold."""
        import psycopg

        from campaign.services import counting

        deadline = time.monotonic() + 20
        while len(self.acknowledged_confirmations) < 10 and time.monotonic() < deadline:
            time.sleep(0.1)

        url = self.stack.database_url
        hot = self.campaigns.ids["hot"]
        results: dict = {"folds": 0, "deltas": 0, "errors": []}

        def fold() -> None:
            with self.app.app_context():
                try:
                    for _ in range(3):
                        folded = counting.fold_counts(batch=200)
                        results["folds"] += 1
                        results["deltas"] += folded.count  # its commit enqueues the milestones
                except Exception as exc:  # noqa: BLE001 - reported as a failed check
                    results["errors"].append(repr(exc))
                finally:
                    self.db.session.remove()

        with psycopg.connect(url) as conn:
            started = time.monotonic()
            conn.execute("SELECT id FROM campaigns WHERE id = %s FOR NO KEY UPDATE", [hot])
            folds = [threading.Thread(target=fold, daemon=True) for _ in range(3)]
            for t in folds:
                t.start()
            time.sleep(self.size.lock_seconds)
            conn.commit()
            held = time.monotonic() - started
        for t in folds:
            t.join(60)
        results["held_s"] = round(held, 1)
        self.figures.lock_contention = results
        self.log(
            f"  hot campaign row held {held:.1f} s; {results['folds']} side-by-side folds "
            f"applied {results['deltas']} deltas"
        )

    # ================================================================== the waves

    def run(self) -> None:
        size = self.size
        watcher = self.watch()
        self.log(
            f"Wave 1: {size.hot_signers + size.second_signers:,} supporters sign; "
            f"{size.kills['signing']} worker kills, a clean Redis restart"
        )
        wave = self.sign_wave(
            "signing", {"hot": size.hot_signers, "second": size.second_signers}, span=size.span_seconds
        )
        for i in range(size.kills["signing"]):
            self.kill_worker("signing", prefer=("dispatch_confirmations", "fold"))
            if i == 0:
                self.restart_redis(signal.SIGTERM)
        if size.kills["signing"] == 0:
            self.restart_redis(signal.SIGTERM)
        wave.join(size.deadline_seconds)
        self.check_deadline()
        self.set_goals()

        self.log(
            "Wave 2: nine in ten confirm; milestones, goal notices and the first deliveries; "
            "the hot row held, a Redis SIGKILL, a PostgreSQL restart, "
            f"{size.kills['confirming']} worker kills and {size.main_only_kills} of a main "
            "process only"
        )
        clients = self.confirm_wave(["hot", "second"], span=size.span_seconds)
        # The faults that need the confirmations pouring in come first; the milestone
        # notices, goal fan-outs and deliveries the kills aim at come after them.
        self.hold_hot_campaign()
        self.restart_redis(signal.SIGKILL)
        self.restart_postgres()
        # Whole workers first: the run cannot end before RQ has noticed the last one's job.
        for _ in range(size.kills["confirming"]):
            self.kill_worker(
                "confirming", prefer=("notify_milestone", "send_batch", "deliver"), wait=size.prefer_seconds
            )
        for _ in range(size.main_only_kills):
            self.kill_worker(
                "confirming",
                main_only=True,
                prefer=("dispatch_confirmations", "notify", "send_batch"),
                wait=size.prefer_seconds,
            )
        for t in clients:
            t.join(max(1, size.deadline_seconds - self.elapsed()))
        self.check_deadline()

        self.log(
            f"Wave 3: {size.extra_signers:,} more sign and confirm; a second delivery round; "
            f"{size.kills['second round']} worker kills"
        )
        wave = self.sign_wave("second-round", {"hot": size.extra_signers})
        kills = size.kills["second round"]
        for _ in range(kills - 1):
            self.kill_worker("second round", prefer=("deliver", "send_batch"))
        wave.join(size.deadline_seconds)
        # Deliveries queue behind the confirmation emails (high before default): as long as the
        # run's bound leaves room for the rest.
        room = size.deadline_seconds - self.elapsed() - size.recovery_seconds - 60
        self.wait_for_first_rounds(max(90, room))
        clients = self.confirm_wave(["hot"])
        for t in clients:
            t.join(max(1, size.deadline_seconds - self.elapsed()))
        self.wait_for_folds()
        self.second_round()
        if kills:  # the last one while the second round or a fan-out batch runs, if it can
            self.kill_worker("second round", prefer=("deliver", "send_batch"), wait=40)

        self.log("Recovery: the sweeper and RQ's registry repair finish what was left…")
        started = time.monotonic()
        done = self.wait_until_done(size.recovery_seconds)
        self.figures.recovery_seconds = round(time.monotonic() - started, 1)
        self.figures.jobs["all finished in time"] = done
        self.stop.set()
        watcher.join(5)

    def set_goals(self) -> None:
        """Goals the confirmations will cross whatever share of the wave got through (a slow
        machine answers fewer signatures in the wave's bound): 40% of what was stored."""
        from sqlalchemy import func, select, update

        from campaign.models import Campaign, Support

        for name in ("hot", "second"):
            cid = self.campaigns.ids[name]
            stored = self.db.session.execute(
                select(func.count()).select_from(Support).filter_by(campaign_id=cid)
            ).scalar_one()
            goal = max(20, int(stored * 0.4))
            self.db.session.execute(update(Campaign).where(Campaign.id == cid).values(goal=goal))
            self.figures.goals[name] = goal
        self.db.session.commit()
        self.log(f"  goals set from what was stored: {self.figures.goals}")

    def wait_for_folds(self, timeout: float = 60) -> None:
        from sqlalchemy import func, select

        from campaign.models import CountDelta

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.db.session.execute(select(func.count()).select_from(CountDelta)).scalar_one()
            self.db.session.commit()
            if not left:
                return
            time.sleep(0.5)

    def wait_for_first_rounds(self, timeout: float = 150) -> None:
        """Wave 3's supporters belong to the second round: the first must be out before."""
        from sqlalchemy import func, select

        from campaign.models import Delivery, DeliveryState

        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            queued = self.db.session.execute(
                select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.QUEUED)
            ).scalar_one()
            sent = self.db.session.execute(select(func.count()).select_from(Delivery)).scalar_one()
            self.db.session.commit()
            if sent >= 2 and not queued:
                self.figures.jobs["first rounds out after (s)"] = round(time.monotonic() - started, 1)
                return
            time.sleep(0.5)
        self.figures.errors.append(
            f"the first delivery rounds were not out within {timeout:.0f} s of the goals"
        )

    def second_round(self) -> None:
        """The organiser delivers the supporters counted since the first round."""
        from campaign.services import ServiceError
        from campaign.services.deliveries import request_delivery

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                delivery = request_delivery(self.campaigns.ids["hot"], self.campaigns.organiser_id)
                self.log(f"  second round asked for: delivery {delivery.id}, round {delivery.round}")
                return
            except ServiceError as exc:  # the first round is still on its way: wait for it
                self.db.session.rollback()
                reason = str(exc)
                time.sleep(0.5)
        self.figures.errors.append(f"no second delivery round: {reason}")

    # ================================================================== recovery and checks

    def unfinished(self) -> dict[str, int]:
        """Work the database or RQ still holds undone."""
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry
        from sqlalchemy import String, cast, exists, func, literal, select

        from campaign.models import (
            CountDelta,
            Delivery,
            DeliveryState,
            FanoutBatch,
            MailReceipt,
            Milestone,
            Notice,
            Support,
        )
        from campaign.queue import get_queue

        s = self.db.session
        key = (
            literal("confirm-support:")
            + cast(Support.id, String)
            + literal(":")
            + cast(Support.confirmation_sends, String)
        )
        left = {
            "count deltas not folded": s.execute(select(func.count()).select_from(CountDelta)).scalar_one(),
            "milestones not notified": s.execute(
                select(func.count()).select_from(Milestone).where(Milestone.notified_at.is_(None))
            ).scalar_one(),
            "fan-out batches not done": s.execute(
                select(func.count()).select_from(FanoutBatch).where(FanoutBatch.done_at.is_(None))
            ).scalar_one(),
            "notices not done": s.execute(
                select(func.count()).select_from(Notice).where(Notice.done_at.is_(None))
            ).scalar_one(),
            "deliveries queued": s.execute(
                select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.QUEUED)
            ).scalar_one(),
            "confirmation emails not sent": s.execute(
                select(func.count())
                .select_from(Support)
                .where(
                    Support.confirmed_at.is_(None),
                    Support.withdrawn_at.is_(None),
                    Support.confirmation_sends > 0,
                    ~exists().where(MailReceipt.key == key),
                )
            ).scalar_one(),
        }
        s.commit()
        try:
            for name in self.app.config["RQ_QUEUES"]:
                q = get_queue(name)
                left[f"rq {name}: queued"] = q.count
                left[f"rq {name}: started"] = StartedJobRegistry(queue=q).count
                left[f"rq {name}: scheduled"] = ScheduledJobRegistry(queue=q).count
        except Exception as exc:  # noqa: BLE001
            left["rq unreachable"] = 1
            self.log(f"  (RQ: {exc!r})")
        return left

    def wait_until_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            left = {k: v for k, v in self.unfinished().items() if v}
            # Periodic jobs (fold, sweep) come and go: only they may remain queued.
            if not left:
                self.figures.jobs["left after recovery"] = {}
                return True
            if left != last:
                self.log(f"  still to do: {left}")
                last = left
            if time.monotonic() > deadline:
                self.figures.jobs["left after recovery"] = left
                return False
            time.sleep(1)

    def checks(self) -> None:
        from rq.registry import FailedJobRegistry
        from sqlalchemy import select

        from campaign.mail import receipt_message_id
        from campaign.models import (
            Campaign,
            CountryCount,
            Delivery,
            DeliveryState,
            FanoutBatch,
            MailReceipt,
            Milestone,
            Support,
        )
        from campaign.queue import get_queue
        from campaign.services import counting

        s = self.db.session
        c = self.figures.checks
        ids = list(self.campaigns.ids.values())

        # --- supports: none lost, none twice
        supports = s.execute(select(Support).where(Support.campaign_id.in_(ids))).scalars().all()
        suspect = {x.id for x in supports if getattr(x, "suspect", None)}
        confirmed = {x.id for x in supports if x.confirmed_at is not None}
        lost = sorted(self.acknowledged_confirmations - confirmed - suspect)
        pairs = Counter((x.campaign_id, x.email_canonical) for x in supports)
        sign_ok = sum(1 for a in self.answers if a.what == "sign" and a.status == 303)
        c["confirmed supports lost"] = {
            "ok": not lost,
            "acknowledged": len(self.acknowledged_confirmations),
            "confirmed in the database": len(confirmed),
            "held as suspect": len(suspect),
            "lost": lost[:20],
        }
        c["duplicate support rows"] = {
            "ok": all(n == 1 for n in pairs.values()),
            "rows": len(supports),
            "duplicates": sum(n - 1 for n in pairs.values()),
        }
        c["acknowledged signatures stored"] = {
            "ok": len(supports) >= sign_ok,
            "acknowledged (303)": sign_ok,
            "stored": len(supports),
            "sent": sum(self.figures.signed.values()),
        }

        # --- mail, from the sink: (recipient, Message-ID, subject) -> times received
        path = self.stack.dir / "messages.json"
        self.stack.sink_command(f"messages {path}")
        rows = json.loads(path.read_text())
        received = {(r, m): n for r, m, _subject, n in rows}
        by_subject: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r, m, subject, _n in rows:
            by_subject[r, subject].add(m)
        receipts = {
            k: (r, e)
            for k, r, e in s.execute(select(MailReceipt.key, MailReceipt.recipient, MailReceipt.error)).all()
        }

        def got(key: str) -> bool:
            if key not in receipts:
                return False
            recipient, _error = receipts[key]
            return received.get((recipient.lower(), receipt_message_id(key)), 0) > 0

        # A pending supporter who submits the form again gets the link again (a new send
        # number, at most three): those are distinct emails by design; nothing else may be.
        key_of = {receipt_message_id(k): k for k in receipts}
        sends = {x.id: x.confirmation_sends for x in supports}

        def allowed(ids: set[str]) -> int:
            keys = {key_of.get(m, "") for m in ids}
            owners = {k.split(":")[1] for k in keys if k.startswith("confirm-support:")}
            if len(owners) == 1 and all(k.startswith("confirm-support:") for k in keys):
                return sends.get(int(owners.pop()), 1)
            return 1

        twice = {
            f"{r} · {' '.join(subj.split())}": len(m)
            for (r, subj), m in by_subject.items()
            if len(m) > allowed(m)
        }
        c["at most one email per recipient and subject"] = {
            "ok": not twice,
            "breaches": dict(list(twice.items())[:10]),
        }
        retransmitted = sum(n - 1 for n in received.values() if n > 1)
        receipted = {receipt_message_id(k) for k in receipts}
        unreceipted = {(r, m) for (r, m) in received if m not in receipted}
        # A worker killed after the mail server took a message and before its receipt
        # committed leaves that email without a receipt; its retry resends the same
        # Message-ID, or finds the work done: the supporter confirmed with that email's link
        # meanwhile. A job sending one email leaves at most one so per kill; the confirmation
        # dispatcher commits a batch's receipts after the batch's last message left, so a kill
        # of it leaves at most that batch (CONFIRMATION_BATCH), each to a supporter who has
        # since confirmed (campaign/jobs/supports.py, the resend window).
        whole = [k for k in self.figures.kills if k["what"] != "main process only"]
        dispatchers = sum(1 for k in whole if k["job"].endswith("dispatch_confirmations"))
        since_confirmed = {x.email_canonical for x in supports if x.confirmed_at or x.suspect_confirmed_at}
        of_a_batch = {(r, m) for (r, m) in unreceipted if r in since_confirmed}
        others = unreceipted - of_a_batch
        batch = self.app.config["CONFIRMATION_BATCH"]
        c["every email sent has a receipt (but one per kill, or a batch per dispatcher killed)"] = {
            "ok": len(others) <= len(whole) and len(of_a_batch) <= dispatchers * batch + len(whole),
            "without": len(unreceipted),
            "to supporters since confirmed": len(of_a_batch),
            "kills": len(whole),
            "of them dispatchers": dispatchers,
        }
        sent_not_received = [k for k, (_r, e) in receipts.items() if e is None and not got(k)]
        c["every receipt's email was received"] = {
            "ok": not sent_not_received,
            "missing": sent_not_received[:10],
        }

        # --- milestones: each notified, organiser once, every goal recipient once
        milestones = (
            s.execute(
                select(Milestone)
                .where(Milestone.campaign_id.in_(ids))
                .order_by(Milestone.campaign_id, Milestone.threshold)
            )
            .scalars()
            .all()
        )
        missing = []
        goal_recipients = 0
        for m in milestones:
            if m.notified_at is None or not got(f"milestone:{m.id}:organiser"):
                missing.append(f"milestone {m.threshold} of campaign {m.campaign_id}: organiser")
            if m.is_goal:
                batches = (
                    s.execute(select(FanoutBatch).filter_by(topic="goal", object_id=m.id)).scalars().all()
                )
                batch_of = {
                    x.id: b
                    for x in supports
                    for b in batches
                    if x.campaign_id == m.campaign_id and b.first_id <= x.id <= b.last_id
                }
                in_batches = set(batch_of)
                # Counted when its batch was recorded: it gets the notice (one who confirmed
                # later may get it too, if before the batch ran, but never twice).
                expected = [
                    x
                    for x in supports
                    if x.id in in_batches
                    and x.consents_to_updates
                    and x.confirmed_at is not None
                    and x.withdrawn_at is None
                    and x.confirmed_at <= batch_of[x.id].created_at
                ]
                # Everyone counted when the goal was reached is among the recipients.
                left_out = [
                    x.id
                    for x in supports
                    if x.campaign_id == m.campaign_id
                    and x.consents_to_updates
                    and x.confirmed_at is not None
                    and x.withdrawn_at is None
                    and x.confirmed_at <= m.reached_at
                    and x.id not in in_batches
                ]
                goal_recipients += len(expected)
                missing += [
                    f"goal {m.id}: supporter {x.id}" for x in expected if not got(f"goal:{m.id}:{x.id}")
                ]
                missing += [f"goal {m.id}: supporter {i} left out of the fan-out" for i in left_out]
        names = [
            f"{m.threshold:,}{' (goal)' if m.is_goal else ''} of {self.name_of(m.campaign_id)}"
            for m in milestones
        ]
        c["every milestone notified"] = {
            "ok": bool(milestones) and not missing,
            "milestones": names,
            "goal recipients": goal_recipients,
            "missing": missing[:10],
        }

        # --- deliveries: one brand email per round
        deliveries = s.execute(select(Delivery).where(Delivery.campaign_id.in_(ids))).scalars().all()
        brand_mail = {m for (r, m) in received if r == "press@northwind.bench.example"}
        per_round = [
            {
                "campaign": self.name_of(d.campaign_id),
                "round": d.round,
                "state": str(d.state),
                "supports": d.support_count,
                "emailed": got(f"delivery:{d.id}"),
            }
            for d in deliveries
        ]
        c["one brand email per delivery round"] = {
            "ok": len(deliveries) >= 3
            and len(brand_mail) == len(deliveries)
            and all(d.state != DeliveryState.QUEUED and got(f"delivery:{d.id}") for d in deliveries),
            "rounds": per_round,
            "brand emails": len(brand_mail),
        }

        # --- counts: cached = COUNT(*), then the recount finds no drift
        exact = counting.exact_counts().countries
        drift = {}
        for campaign in s.execute(select(Campaign).where(Campaign.id.in_(ids))).scalars():
            countries = dict(
                s.execute(
                    select(CountryCount.country, CountryCount.count).filter_by(campaign_id=campaign.id)
                ).all()
            )
            wanted = {k: v for k, v in exact[campaign.id].items() if v}
            if (
                campaign.confirmed_count != sum(wanted.values())
                or {k: v for k, v in countries.items() if v} != wanted
            ):
                drift[self.name_of(campaign.id)] = (campaign.confirmed_count, sum(wanted.values()))
        s.commit()
        counts = {self.name_of(cid): sum(v.values()) for cid, v in exact.items() if cid in ids}
        recount_drift = counting.recount()
        c["cached counts equal COUNT(*)"] = {
            "ok": not drift and not recount_drift,
            "counts": counts,
            "drift": drift,
            "recount drift": len(recount_drift),
        }

        # --- jobs
        left = self.figures.jobs.get("left after recovery", {})
        failed = Counter()
        for name in self.app.config["RQ_QUEUES"]:
            q = get_queue(name)
            for job_id in FailedJobRegistry(queue=q).get_job_ids():
                job = q.fetch_job(job_id)
                failed[job.func_name.rsplit(".", 1)[-1] if job else "?"] += 1
        self.figures.jobs[FAILED_FOR_GOOD] = dict(failed)
        c["every unfinished job finished after recovery"] = {
            "ok": self.figures.jobs["all finished in time"],
            "left": left,
            "recovery_s": self.figures.recovery_seconds,
        }
        c["lock contention: folds side by side applied each delta once"] = {
            "ok": not self.figures.lock_contention.get("errors") and not drift,
            **self.figures.lock_contention,
        }

        # --- answers: no 5xx outside the outages, only 503 inside
        windows = [(o["from"], o["to"]) for o in self.figures.outages]
        outside, inside = Counter(), Counter()
        for a in self.answers:
            where = inside if any(f <= a.at <= t for f, t in windows) else outside
            where[(a.what, a.status)] += 1
        bad_outside = {f"{w} {st}": n for (w, st), n in outside.items() if st >= 500 or st == 0}
        bad_inside = {f"{w} {st}": n for (w, st), n in inside.items() if (st >= 500 and st != 503)}
        statuses = defaultdict(Counter)
        for a in self.answers:
            statuses[a.what][a.status] += 1
        self.figures.statuses.update({w: dict(sorted(v.items())) for w, v in statuses.items()})
        socket_errors = {
            k: v
            for w in self.figures.statuses.values()
            if "socket_errors" in w
            for k, v in w["socket_errors"].items()
            if v
        }
        c["no 5xx outside the outage windows"] = {
            "ok": not bad_outside and not socket_errors,
            "found": bad_outside,
            "wrk socket errors": socket_errors,
            "answers outside": sum(outside.values()),
        }
        c["503 (not 500) inside them"] = {
            "ok": not bad_inside,
            "found": bad_inside,
            "503 inside": sum(n for (_w, st), n in inside.items() if st == 503),
            "answers inside": sum(inside.values()),
        }
        c["the run itself"] = {"ok": not self.figures.errors, "errors": self.figures.errors}

        self.figures.emails = {
            "messages received": sum(received.values()),
            "distinct emails": len(received),
            "resent after a kill (same Message-ID)": retransmitted,
            "confirmation emails": sum(1 for k in receipts if k.startswith("confirm-support:")),
            "milestone emails to the organiser": sum(1 for k in receipts if k.startswith("milestone:")),
            "goal emails to supporters": sum(1 for k in receipts if k.startswith("goal:")),
            "brand emails (deliveries)": len(brand_mail),
        }

    def name_of(self, campaign_id: int) -> str:
        return next(n for n, i in self.campaigns.ids.items() if i == campaign_id)


# ====================================================================== processes


def child_pids(name: str) -> list[int]:
    """Ids of this process's children running program ``name``."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            if comm == name and int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
                found.append(int(entry.name))
    return found


def horse_of(pid: int) -> int | None:
    """The work-horse of RQ worker ``pid``: the child that made itself a process group."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for child in map(int, children):
        try:
            if os.getpgid(child) == child:
                return child
        except ProcessLookupError:
            continue
    return None


def kill_sessions(sessions: set[int]) -> None:
    """SIGKILL every process in the given sessions (each started with its own session, so
    these are exactly the processes the run started and their descendants)."""
    for _ in range(3):
        found = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) in sessions:  # field 6 of stat: the session id
                found = True
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            return
        time.sleep(0.2)


# ====================================================================== report


def report(figures: Figures) -> str:
    f = figures
    lines = [f"Chaos run ({f.size}), {f.seconds:.0f} s"]
    lines.append(
        f"  supports in flight: {sum(f.signed.values()):,} signed "
        f"({', '.join(f'{k} {v:,}' for k, v in f.signed.items())}); "
        f"{f.checks['confirmed supports lost']['acknowledged']:,} confirmations acknowledged"
    )
    kinds = Counter(k["what"] for k in f.kills)
    lines.append(
        f"  kills: {len(f.kills)} SIGKILLs of RQ workers mid-job "
        f"({', '.join(f'{n} {w}' for w, n in kinds.items())}); jobs killed: "
        f"{', '.join(sorted({k['job'].rsplit('.', 1)[-1] for k in f.kills}))}"
    )
    lines.append(f"  restarts: {', '.join(f'{k} {v}' for k, v in f.restarts.items())}")
    for o in f.outages:
        lines.append(f"  outage: {o['what']}, down {o['down_s']} s")
    lock = f.lock_contention
    if lock:
        lines.append(
            f"  lock contention: hot campaign row held {lock.get('held_s')} s, "
            f"{lock.get('folds')} folds side by side, {lock.get('deltas')} deltas"
        )
    lines.append("  emails: " + ", ".join(f"{k} {v:,}" for k, v in f.emails.items()))
    lines.append(
        "  answers: "
        + "; ".join(
            f"{w}: " + " ".join(f"{st}×{n}" for st, n in v.items())
            for w, v in f.statuses.items()
            if isinstance(v, dict) and "answers" not in v
        )
    )
    failed = f.jobs.get(FAILED_FOR_GOOD) or "none"
    lines.append(f"  recovery: {f.recovery_seconds} s; failed for good in RQ: {failed}")
    lines.append("  checks:")
    for name, check in f.checks.items():
        detail = {k: v for k, v in check.items() if k != "ok" and v not in ([], {}, None)}
        lines.append(
            f"    {'PASS' if check['ok'] else 'FAIL'}  {name}"
            + (f"  {json.dumps(detail, default=str)[:300]}" if detail else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.system.chaos.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", choices=sorted(SIZES), default=os.environ.get("CHAOS_SIZE", "small"))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and logs")
    args = parser.parse_args(argv)
    size = SIZES[args.size]

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", flush=True)

    chaos = None
    try:
        with Stack(keep=args.keep, log=log) as stack:
            sys.path.insert(0, str(stack.app_root))  # the run's snapshot of the app
            chaos = Chaos(size, stack, log=log)
            try:
                chaos.setup()
                chaos.run()
                chaos.checks()
            except BaseException:
                log(traceback.format_exc())
                if chaos.figures.checks == {}:
                    chaos.figures.checks["the run itself"] = {
                        "ok": False,
                        "errors": [traceback.format_exc()[-2000:]],
                    }
                raise
            finally:
                chaos.close()
                if args.keep:
                    log(f"Kept: {stack.dir}")
    except KeyboardInterrupt:
        print("Interrupted: everything the chaos run started is stopped.", flush=True)
        return 130
    except Exception:  # noqa: BLE001 - reported above, and in the JSON
        pass
    figures = chaos.figures if chaos else Figures(size.name)
    figures.seconds = round(time.monotonic() - started, 1)
    if args.out:
        args.out.write_text(json.dumps(asdict(figures), indent=2, default=str))
    if figures.checks and "confirmed supports lost" in figures.checks:
        print("\n" + report(figures) + "\n", flush=True)
    ok = bool(figures.checks) and all(ch["ok"] for ch in figures.checks.values())
    print(
        f"Chaos run {'passed' if ok else 'FAILED'}: "
        f"{sum(ch['ok'] for ch in figures.checks.values())} of {len(figures.checks)} checks.",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
