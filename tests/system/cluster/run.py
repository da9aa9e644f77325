"""The production topology broken on purpose (``python -m tests.system.cluster.run``).

Supporters sign and confirm through the load balancer of :mod:`bench.cluster.topology` while,
one after the other: an app host is killed; the Redis primary is killed and Sentinel fails
over to the replica; the PostgreSQL primary is retired and its replica promoted; an app host
is cut off from the database. Then it checks and prints: no acknowledged support lost or
doubled, 503s only inside the failure windows and no error made by the load balancer, every
job finished, one email per recipient and event, counts equal to ``COUNT(*)``, and how long
each failure took to heal.

``make cluster-chaos`` runs it full: three app hosts, 1,500 supporters over 150 s, all four
failures, each killed or cut-off host back in rotation before the next. ``make test`` runs it
small: two app hosts (one gunicorn worker each), 100 supporters over 15 s and two failures
only: the Redis failover, then an app host killed (started again while the run goes on). The
PostgreSQL promotion is also checked, on loopback, by tests/test_replicas.py; the cut-off host
only by the full run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.cluster.topology import Cluster, address, cut_from_database, reconnect_to_database

SIZES = {
    # signers, signing threads, the run's bound, seconds between failures, seconds of signing,
    # app hosts and gunicorn workers on each, the failures in their order, the sweeper's
    # period and the age of work it calls lost (short, so that recovery fits in the run)
    "small": {
        "signers": 100,
        "threads": 3,
        "deadline": 420,
        "pause": 2.0,
        "span": 15,
        "app_hosts": 2,
        "gunicorn_workers": 1,
        # Redis first: the killed app host then starts again while the run goes on, and not
        # during the failover (one run saw a process booting then answer a 500 afterwards).
        "faults": ("redis", "app"),
        "sweep": (5, 10),
    },
    "full": {
        "signers": 1500,
        "threads": 6,
        "deadline": 1200,
        "pause": 12.0,
        "span": 150,
        "app_hosts": 3,
        "gunicorn_workers": 2,
        "faults": ("app", "redis", "postgres", "cut"),
        "sweep": (10, 15),
    },
}
WINDOW_GRACE = 3.0  # seconds after a failure healed in which a 503 still counts as inside it


@dataclass
class Answer:
    at: float
    status: int
    what: str
    made_by_lb: bool = False


@dataclass
class Fault:
    name: str
    started: float
    healed: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.healed is None else round(self.healed - self.started, 2)


@dataclass
class Run:
    size: dict
    cluster: Cluster
    app: object
    log: object = print
    answers: list[Answer] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    confirmed: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rejoined: dict[str, float] = field(default_factory=dict)
    rejoining: list[threading.Thread] = field(default_factory=list)

    # ------------------------------------------------------------------ load

    def record(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def _send(self, conn, method: str, path: str, body: str | None, headers: dict, what: str):
        """One request through the load balancer; returns (connection, status, body)."""
        for fresh in (conn is None, True):
            try:
                conn = conn if not fresh else http.client.HTTPConnection(address("lb"), 80, timeout=30)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except OSError:
                conn.close()
                if fresh:
                    self.record(Answer(time.time(), 0, what))
                    return None, 0, b""
                # A kept-alive connection the balancer closed: a browser opens a new one and
                # sends again, and so does this supporter.
        # The app's own 503 says when to come back; one made by HAProxy does not.
        made_by_lb = response.status >= 500 and response.getheader("Retry-After") is None
        self.record(Answer(time.time(), response.status, what, made_by_lb))
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        return conn, response.status, data

    def signers(self, requests: list) -> list[threading.Thread]:
        work: queue.Queue = queue.Queue()
        for request in requests:
            work.put(request)

        def client() -> None:
            conn = None
            while not self.stop.is_set():
                try:
                    method, path, body, headers, email = work.get_nowait()
                except queue.Empty:
                    return
                for _attempt in range(40):  # a person tries again after a 503 page
                    conn, status, _ = self._send(conn, method, path, body, headers, "sign")
                    if status == 303:
                        with self.lock:
                            self.acknowledged.add(email)
                        break
                    time.sleep(0.5)
                # Spread over the whole run, so every failure meets supporters signing.
                time.sleep(self.size["span"] * self.size["threads"] / len(requests))

        threads = [
            threading.Thread(target=client, daemon=True, name=f"sign-{i}")
            for i in range(self.size["threads"])
        ]
        for t in threads:
            t.start()
        return threads

    def confirmer(self) -> threading.Thread:
        """Opens the confirmation link of each new pending support, as its supporter would."""
        from sqlalchemy import select

        from campaign.extensions import db
        from campaign.jobs.supports import support_token
        from campaign.models import Support

        def run() -> None:
            with self.app.app_context():
                confirm()

        def confirm() -> None:
            conn = None
            done: set[int] = set()
            while not self.stop.is_set():
                try:
                    pending = (
                        db.session.execute(select(Support).where(Support.confirmed_at.is_(None)))
                        .scalars()
                        .all()
                    )
                    # Every tenth stays pending: its confirmation email must still go out.
                    links = [
                        (s.id, f"/supports/confirm/{support_token('confirm-support', s)}")
                        for s in pending
                        if s.id not in done and s.id % 10 != 9
                    ]
                    db.session.commit()
                except Exception:  # noqa: BLE001 - the database is being failed over
                    db.session.rollback()
                    time.sleep(0.5)
                    continue
                for support_id, path in links:
                    if self.stop.is_set():
                        return
                    conn, status, body = self._send(
                        conn, "GET", path, None, {"Host": address("lb")}, "confirm"
                    )
                    if status == 200:
                        done.add(support_id)
                        with self.lock:
                            self.confirmed.add(support_id)
                time.sleep(0.3)

        thread = threading.Thread(target=run, daemon=True, name="confirm")
        thread.start()
        return thread

    def watcher(self, slug: str) -> threading.Thread:
        def run() -> None:
            conn = None
            paths = [f"/api/v1/campaigns/{slug}/count.json", f"/petitions/{slug}"]
            i = 0
            while not self.stop.is_set():
                conn, _status, _ = self._send(
                    conn, "GET", paths[i % 2], None, {"Host": address("lb")}, "read"
                )
                i += 1
                time.sleep(0.05)

        thread = threading.Thread(target=run, daemon=True, name="watch")
        thread.start()
        return thread

    # ------------------------------------------------------------------ faults

    def until(self, fault: Fault, healed, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not healed():
            if time.monotonic() > deadline:
                self.log(f"  {fault.name}: not healed within {timeout:.0f} s")
                return
            time.sleep(0.1)
        fault.healed = time.time()
        self.log(f"  {fault.name}: healed in {fault.seconds:.1f} s")

    def signed_since(self, moment: float) -> bool:
        with self.lock:
            return any(a.what == "sign" and a.status == 303 and a.at > moment for a in self.answers)

    def lb_says(self, host: str, state: str) -> bool:
        try:
            return self.cluster.lb_status().get(host, "").startswith(state)
        except OSError:
            return False

    def kill_app_host(self, host: str, wait_rejoin: bool = True) -> None:
        fault = Fault(f"app host {host} killed", time.time())
        self.faults.append(fault)
        self.log(f"Killing {host} (SIGKILL to its gunicorn)…")
        proc = self.cluster.procs[host]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(10)
        self.until(fault, lambda: self.lb_says(host, "DOWN") and self.signed_since(fault.started))
        self.rejoin(host, self.cluster.start_app, wait=wait_rejoin)

    def rejoin(self, host: str, action, wait: bool = True) -> None:
        """What a process manager (or an operator) does next: the host back in rotation.
        ``wait=False``: the run goes on meanwhile (:meth:`wait_rejoined` waits for it)."""
        started = time.monotonic()
        action(host)

        def back() -> None:
            self.cluster.wait_healthy([host], timeout=120)
            self.rejoined[host] = round(time.monotonic() - started, 1)
            self.log(f"  {host} back in rotation after {self.rejoined[host]:.1f} s")

        if wait:
            back()
        else:
            thread = threading.Thread(target=back, daemon=True, name=f"rejoin-{host}")
            thread.start()
            self.rejoining.append(thread)

    def wait_rejoined(self) -> None:
        for thread in self.rejoining:
            thread.join(150)

    def fail_over_redis(self) -> None:
        fault = Fault("Redis primary killed, Sentinel failover", time.time())
        self.faults.append(fault)
        self.log("Killing the Redis primary on redis1; Sentinel promotes redis2…")
        self.cluster.redis["redis1"].kill()
        replica = self.cluster.redis["redis2"]
        self.until(
            fault,
            lambda: (
                self.cluster.redis_primary() == (replica.host, replica.port)
                and self.signed_since(time.time() - 0.5)
            ),
        )

    def promote_postgres(self) -> None:
        fault = Fault("PostgreSQL primary retired, replica promoted", time.time())
        self.faults.append(fault)
        self.log("Retiring the PostgreSQL primary on pg1 and promoting the replica on pg2…")
        self.cluster.pg["pg1"].stop("immediate")
        self.cluster.pg["pg2"].promote()
        self.until(fault, lambda: self.signed_since(fault.started + 0.1))

    def cut_app_host(self, host: str) -> None:
        fault = Fault(f"app host {host} cut off from the database", time.time())
        self.faults.append(fault)
        self.log(f"Cutting {host} off from both database hosts…")
        cut_from_database(host)
        self.until(fault, lambda: self.lb_says(host, "DOWN") and self.signed_since(fault.started))
        self.rejoin(host, reconnect_to_database)

    # ------------------------------------------------------------------ checks

    def in_window(self, at: float) -> bool:
        return any(f.started <= at <= (f.healed or float("inf")) + WINDOW_GRACE for f in self.faults)

    def unfinished(self) -> dict[str, int]:
        from sqlalchemy import String, cast, exists, func, literal, select

        from campaign.extensions import db
        from campaign.models import CountDelta, FanoutBatch, MailReceipt, Milestone, Notice, Support
        from campaign.queue import get_queue

        s = db.session
        key = (
            literal("confirm-support:")
            + cast(Support.id, String)
            + literal(":")
            + cast(Support.confirmation_sends, String)
        )
        left = {
            # A job Redis lost in its failover is enqueued again by the sweeper.
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
        }
        s.commit()
        for name in ("high", "default", "bulk"):
            left[f"rq {name}: queued"] = get_queue(name).count
        return {k: v for k, v in left.items() if v}

    def checks(self, campaign_ids: list[int]) -> dict:
        from sqlalchemy import func, select

        from campaign.extensions import db
        from campaign.mail import receipt_message_id
        from campaign.models import Campaign, MailReceipt, Support

        s = db.session
        c: dict[str, dict] = {}
        supports = s.execute(select(Support).where(Support.campaign_id.in_(campaign_ids))).scalars().all()
        by_email = Counter(x.email for x in supports)
        lost = sorted(self.acknowledged - set(by_email))
        c["no acknowledged support lost"] = {
            "ok": not lost,
            "acknowledged": len(self.acknowledged),
            "stored": len(supports),
            "lost": lost[:10],
        }
        doubled = {e: n for e, n in by_email.items() if n > 1}
        c["no support doubled"] = {"ok": not doubled, "doubled": dict(list(doubled.items())[:10])}
        unconfirmed = sorted(self.confirmed - {x.id for x in supports if x.confirmed_at})
        c["every acknowledged confirmation kept"] = {
            "ok": not unconfirmed,
            "acknowledged": len(self.confirmed),
            "lost": unconfirmed[:10],
        }

        outside = Counter(
            a.status for a in self.answers if (a.status >= 500 or a.status == 0) and not self.in_window(a.at)
        )
        inside = Counter(
            a.status for a in self.answers if (a.status >= 500 or a.status == 0) and self.in_window(a.at)
        )
        by_lb = Counter(a.status for a in self.answers if a.made_by_lb)
        c["only 503s, and only inside the failure windows"] = {
            "ok": not outside and set(inside) <= {503},
            "outside": dict(outside),
            "inside": dict(inside),
            "answers": len(self.answers),
        }
        c["no error made by the load balancer"] = {"ok": not by_lb, "errors": dict(by_lb)}

        left = self.unfinished()
        c["every job finished"] = {"ok": not left, "left": left}

        rows = self.mail_rows()
        received = Counter((r, m) for r, m, _s, n in rows for _ in range(n))
        twice = {f"{r} {m}": n for (r, m), n in received.items() if n > 1}
        receipts = dict(s.execute(select(MailReceipt.key, MailReceipt.recipient)).all())
        # A confirmation email is known by its Message-ID, made from its receipt's key.
        confirmation_ids = {receipt_message_id(k) for k in receipts if k.startswith("confirm-support:")}
        confirmations = Counter(r for r, m, _subject, _n in rows if m in confirmation_ids)
        sends = {x.email.lower(): x.confirmation_sends for x in supports}
        extra = {r: n for r, n in confirmations.items() if n > max(1, sends.get(r, 1))}
        # Who was still pending when the mail went (every tenth, at least) got it once.
        missing = [
            x.email
            for x in supports
            if x.confirmed_at is None and x.confirmation_sends and not confirmations.get(x.email.lower())
        ]
        c["one email per recipient and event"] = {
            "ok": not twice and not extra and not missing,
            "messages": sum(received.values()),
            "received twice": dict(list(twice.items())[:10]),
            "extra confirmations": extra,
            "confirmations missing": missing[:10],
            "receipts without their email": sum(
                1 for k in receipts if not any(m == receipt_message_id(k) for _r, m in received)
            ),
        }

        counts = {}
        for cid in campaign_ids:
            campaign = s.get(Campaign, cid)
            counted = s.execute(
                select(func.count())
                .select_from(Support)
                .where(
                    Support.campaign_id == cid,
                    Support.confirmed_at.is_not(None),
                    Support.withdrawn_at.is_(None),
                )
            ).scalar_one()
            counts[campaign.slug] = {"cached": campaign.confirmed_count, "COUNT(*)": counted}
        s.commit()
        c["counts equal COUNT(*)"] = {
            "ok": all(v["cached"] == v["COUNT(*)"] for v in counts.values()),
            **counts,
        }
        return c

    def mail_rows(self) -> list:
        path = self.cluster.dir / "messages.json"
        self.cluster.sink.popen.stdin.write(f"messages {path}\n")
        self.cluster.sink.popen.stdin.flush()
        self.cluster.sink.popen.stdout.readline()
        return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    def interrupt(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    cluster = Cluster(
        log=log,
        app_hosts=size["app_hosts"],
        gunicorn_workers=size["gunicorn_workers"],
        sweep_every_seconds=size["sweep"][0],
        sweep_after_seconds=size["sweep"][1],
    )
    figures: dict = {"size": args.size}
    try:
        cluster.start()
        os.environ.update(cluster.env)
        from bench import seed, supporters
        from campaign import create_app
        from campaign.extensions import db
        from campaign.models import EmailFrequency, User

        app = create_app()
        ctx = app.app_context()
        ctx.push()
        campaigns = seed.seed_base({"hot": 10_000})
        organiser = db.session.get(User, campaigns.organiser_id)
        organiser.email_frequency = EmailFrequency.IMMEDIATELY
        db.session.commit()
        slug = campaigns.slugs["hot"]
        base = f"http://{address('lb')}"
        requests = [
            (*r, f"cluster.{i}@bench.example")
            for i, r in enumerate(supporters.sign_requests(app, slug, "cluster", size["signers"], 0, base))
        ]
        for r in requests:
            r[3]["Host"] = address("lb")
        run = Run(size, cluster, app, log)
        log(f"Signing {len(requests)} supporters through the load balancer, confirming, reading…")
        signing = run.signers(requests)
        confirming = run.confirmer()
        watching = run.watcher(slug)
        faults = {
            # The small run does not wait for the killed host to be back: it is, by the end.
            "app": lambda: run.kill_app_host("app1", wait_rejoin=args.size == "full"),
            "redis": run.fail_over_redis,
            "postgres": run.promote_postgres,
            "cut": lambda: run.cut_app_host("app2"),
        }
        for name in size["faults"]:
            time.sleep(size["pause"])
            faults[name]()
        for t in signing:
            t.join(max(1.0, size["deadline"] - (time.monotonic() - started) - 120))
        log(f"Signing done: {len(run.acknowledged)} acknowledged. Waiting for the work to finish…")
        run.wait_rejoined()
        deadline = time.monotonic() + 150
        while run.unfinished() and time.monotonic() < deadline:
            time.sleep(0.5)
        run.stop.set()
        confirming.join(10)
        watching.join(10)
        # The last confirmations' folds and emails.
        deadline = time.monotonic() + 60
        while run.unfinished() and time.monotonic() < deadline:
            time.sleep(0.5)
        db.session.remove()
        figures["faults"] = [{"fault": f.name, "healed in s": f.seconds} for f in run.faults]
        figures["back in rotation after s"] = run.rejoined
        figures["checks"] = run.checks(list(campaigns.ids.values()))
        figures["answers"] = dict(Counter(a.status for a in run.answers))
        figures["seconds"] = round(time.monotonic() - started, 1)
    except KeyboardInterrupt:
        log("Stopped.")
        return 130
    finally:
        failed = not all(c["ok"] for c in figures.get("checks", {}).values()) or "checks" not in figures
        if failed:  # what the app hosts and workers said, for the report
            for name, proc in cluster.procs.items():
                if name.startswith(("app", "worker")):
                    warnings = [
                        ln
                        for ln in proc.tail(400).splitlines()
                        if "WARNING" in ln or "ERROR" in ln or "Error" in ln
                    ]
                    if warnings:
                        log(f"{name}: " + "\n  ".join(warnings[-8:]))
        cluster.stop()
    print(json.dumps(figures, indent=1, default=str), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(figures, fh, indent=1, default=str)
    return 0 if all(c["ok"] for c in figures["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
