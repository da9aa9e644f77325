"""The sign POST's and the confirm GET's CPU per request, in one process:
``python -m bench.request_cpu``.

    python -m bench.request_cpu                       # 1,000 of each, three rounds
    python -m bench.request_cpu --requests 500 --profile sign   # and where the time goes
    python -m bench.request_cpu --ceilings --profile lean-raw   # beside the bare ceiling and lean
    python -m bench.request_cpu --parts                 # a signature's CPU, part by part
    python -m bench.request_cpu_gevent --ceilings      # 16 requests at once, as a gevent worker

With ``--ceilings`` each round also sends the same number of sign requests to the bare
ceiling (``bare``; ``bare-owed``: its support written with its row of ``confirmations_owed``,
as the app's is), the lean prototype and the lean prototype without Flask (``bench.ceilings``, in
this process, against the same database and Redis), so a signature's CPU can be read
against theirs; ``--profile`` takes their names too.

Starts PostgreSQL, Redis and the SMTP sink as the bench does, configured as production is,
and builds the app as ``wsgi.py`` does (mappers configured, the heap frozen). Each round
sends ``--requests`` sign forms of distinct supporters (session cookie, CSRF token and
client address made as the surge's are), then opens their confirmation links, through the
whole WSGI stack (``ProxyFix``, the hot count, Flask) with no HTTP server. Reported: this
process's CPU time per request (``time.process_time``: everything the web process does, not
PostgreSQL's or Redis's), and beside it PostgreSQL's and Redis's (``sign postgres``: their
processes' CPU time over the round, per request, in clock ticks of 10 ms: a round of a few
thousand requests reads it to about 5 µs), the median of the rounds, and with ``--profile`` the functions
most costly (cProfile, cumulative and own time) in one more round; with ``--parts``, one
more round in which each part of the sign lane (:data:`SIGN_PARTS`) is timed as it runs
(CPU time per signature, each part with what it calls; the timer's own cost, a fraction of a
microsecond a part, included). CPU time holds on a
shared machine where rates do not. A warm-up round (templates compiled, connections opened)
is not counted.

``--greenlets K`` (run through :mod:`bench.request_cpu_gevent`, which patches the process for
gevent first) sends each round's requests from K greenlets at once, each taking the next
request when its last is answered, as wrk's keep-alive connections reach a gevent worker;
the app's pool then keeps as many connections as the bench's gevent workers do
(:data:`bench.stack.GEVENT_POOL_SIZE`). One at a time, each round trip's wait wakes gevent's
loop on its own; at once, one wake-up answers many, as in a worker under load (a signature
0.71 ms one at a time, 0.59 ms sixteen at a time; the bare ceiling's 0.64 and 0.51 ms; with
SQLAlchemy's default pool of 5, 0.87 ms: each request over it opens a connection). ``--profile``
and ``--parts`` still follow one request at a time (a part's CPU time would take in other
requests' while it waits).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import io
import json
import os
import pstats
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder

from bench.stack import GEVENT_POOL_SIZE, Stack
from campaign.queue import gevent_patched

#: The parts of a signature ``--parts`` times: (module, attribute, what it is), each indented
#: under the part that calls it. A function is timed where the code that calls it looks it up.
SIGN_PARTS = (
    ("campaign.supports.sign_lane", "SignLane._sign", "the sign lane, in all"),
    ("campaign.supports.sign_lane", "parse_qsl", "  the body parsed"),
    ("flask.ctx", "AppContext.push", "  the app context pushed"),
    ("flask.sessions", "SecureCookieSessionInterface.open_session", "  the session opened"),
    ("campaign.supports.sign_lane", "SignLane._token_holds", "  the CSRF token checked"),
    ("campaign.services.supports", "campaign_terms", "  the campaign's terms (the hot cache)"),
    ("campaign.supports.sign_lane", "_language", "  the visitor's language"),
    ("campaign.supports.sign_lane", "FormsToFillAgain.take", "  the form filled in (a kept one, or built)"),
    ("campaign.supports.forms", "SupportForm.validate", "  the form validated"),
    ("campaign.supports.sign_lane", "parse_referral", "  the share link that brought them"),
    ("campaign.services.supports", "add_support", "  the service"),
    ("campaign.services.supports", "name_problem", "    the name checked"),
    ("campaign.services.supports", "canonical_email", "    the email's canonical form"),
    ("campaign.services.supports", "rule_decides", "    the allow and block lists"),
    ("campaign.services.supports", "ip_key", "    the address's key"),
    ("campaign.services.supports", "consent_text", "    the consent text, in their language"),
    ("campaign.services.supports", "session_in_transaction", "    whether the session has begun"),
    ("campaign.services.supports", "_driver_statement", "    the statement as psycopg takes it"),
    ("campaign.services.supports", "first_row_alone", "    the statement"),
    ("sqlalchemy.engine.base", "Engine.raw_connection", "      its connection checked out"),
    ("psycopg", "Cursor.execute", "      sent by psycopg"),
    ("campaign.services.supports", "record_signature", "    the Redis round trip"),
    ("campaign.services.abuse", "run_script", "      its script through redis-py"),
    ("flask.sessions", "SecureCookieSessionInterface.save_session", "  the session signed again"),
    ("campaign.supports.sign_lane", "SignLane._see_other", "  the answer"),
    ("flask.ctx", "AppContext.pop", "  the app context popped (its teardown)"),
)

#: The ceilings' sign routes: each target's path for the app's ``/petitions/<slug>/support``.
CEILINGS = {"bare": "/bare/", "bare-owed": "/bare/", "lean": "/lean/", "lean-raw": "/lean/raw/"}


def main(greenlets: int = 1) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ceilings", action="store_true", help="also bare, lean and lean-raw signing")
    parser.add_argument("--profile", choices=("sign", "confirm", *CEILINGS), action="append", default=[])
    parser.add_argument("--top", type=int, default=40, help="functions listed per profile")
    parser.add_argument("--dump", type=Path, help="also write each profile here (pstats files)")
    parser.add_argument("--parts", action="store_true", help="then time each part of a signature")
    parser.add_argument(
        "--greenlets", type=int, default=greenlets, help="requests at once (bench.request_cpu_gevent)"
    )
    args = parser.parse_args()
    if args.greenlets > 1 and not gevent_patched():
        parser.error("--greenlets needs a gevent process: python -m bench.request_cpu_gevent")
    settings = {"SWEEP_AFTER_SECONDS": str(7 * 86400)}
    if args.greenlets > 1:
        settings["DATABASE_POOL_SIZE"] = str(GEVENT_POOL_SIZE)
    with Stack() as stack:
        env = stack.app_in_this_process(**settings)
        from sqlalchemy.orm import configure_mappers

        from bench import seed
        from campaign import create_app

        app = create_app()
        configure_mappers()
        with app.app_context():
            campaigns = seed.seed_base({"sign": 1_000_000})
        gc.collect()
        gc.freeze()
        runner = _Runner(app, campaigns, env["PUBLIC_URL"], ceilings=args.ceilings, greenlets=args.greenlets)
        runner.servers = {
            "postgres": [stack.postgres_pid()],
            "redis": [proc.popen.pid for proc in stack.procs if proc.name == "redis"],
        }
        runner.round("warm", 100)
        results: dict[str, list[float]] = {}
        for n in range(args.rounds):
            figures = runner.round(f"r{n}", args.requests)
            for name, ms in figures.items():
                results.setdefault(name, []).append(ms)
            said = ", ".join(f"{name} {ms:.3f} ms" for name, ms in figures.items())
            print(f"round {n + 1}: {said} of CPU per request")
        summary = {
            name: {
                "cpu_ms_per_request_median": round(statistics.median(runs), 3),
                "cpu_ms_per_request_range": [round(min(runs), 3), round(max(runs), 3)],
            }
            for name, runs in results.items()
        }
        summary["load_average"] = os.getloadavg()
        print(json.dumps(summary))
        runner.greenlets = 1  # a profile and the parts follow one request at a time
        if args.profile:
            runner.dump = args.dump
            runner.round("profile", args.requests, profile=set(args.profile), top=args.top)
        if args.parts:
            with _timed_parts() as spent:
                runner.round("parts", args.requests)
            signatures = spent.pop("calls")
            print(f"--- a signature's CPU, part by part ({signatures} signatures)")
            for _module, _attribute, label in SIGN_PARTS:
                print(f"{spent.get(label, 0.0) / signatures * 1000:7.3f} ms  {label}")
            directly = [label for *_, label in SIGN_PARTS if label.startswith("  ") and label[2] != " "]
            rest = spent[SIGN_PARTS[0][2]] - sum(spent.get(label, 0.0) for label in directly)
            print(f"{rest / signatures * 1000:7.3f} ms    the rest (the lane's own code, the cookies read)")


def part_owner(module: str, name: str) -> tuple[object, str]:
    """Where a part of :data:`SIGN_PARTS` is looked up: its module, or its class for a method
    (``Class.method``), and the attribute's name there."""
    owner = importlib.import_module(module)
    if "." in name:
        class_name, name = name.split(".")
        owner = getattr(owner, class_name)
    return owner, name


@contextmanager
def _timed_parts():
    """Each of :data:`SIGN_PARTS` timed (CPU) while a signature runs, into the dict yielded
    (seconds by label, and ``calls``: the signatures); put back as they were after."""
    spent: dict = {"calls": 0}
    inside = [False]
    undo = []
    for number, (module, name, label) in enumerate(SIGN_PARTS):
        owner, attribute = part_owner(module, name)
        real = getattr(owner, attribute)
        top = number == 0

        def timed(*args, _real=real, _label=label, _top=top, **kwargs):
            if not (_top or inside[0]):
                return _real(*args, **kwargs)
            inside[0] = True
            began = time.process_time()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.process_time() - began
                if _top:
                    inside[0] = False
                    spent["calls"] += 1

        setattr(owner, attribute, timed)
        undo.append((owner, attribute, real))
    try:
        yield spent
    finally:
        for owner, attribute, real in reversed(undo):
            setattr(owner, attribute, real)


class _Runner:
    def __init__(self, app, campaigns, base_url: str, ceilings: bool = False, greenlets: int = 1):
        self.app = app
        self.greenlets = greenlets
        self.ceilings = None
        if ceilings:
            from bench.ceilings import app as ceilings_app

            self.ceilings = ceilings_app
        self.campaigns = campaigns
        self.base_url = base_url
        self.next_address = 0
        self.dump: Path | None = None
        #: Server processes (by name) whose CPU time a request also costs: reported beside
        #: this process's, as "<request> <server>".
        self.servers: dict[str, list[int]] = {}
        self.servers_spent: dict[str, float] = {}

    def round(self, prefix: str, count: int, profile: frozenset | set = frozenset(), top: int = 40):
        from bench import supporters

        with self.app.app_context():
            signs = [
                self._environ(method, path, body, headers)
                for method, path, body, headers in supporters.sign_requests(
                    self.app, self.campaigns.slugs["sign"], prefix, count, self.next_address, self.base_url
                )
            ]
        self.next_address += count
        sign = self._run("sign", signs, 303, profile, top)
        with self.app.app_context():
            from sqlalchemy import select

            from campaign.extensions import db
            from campaign.jobs.supports import support_token
            from campaign.models import Support

            pending = db.session.execute(
                select(Support).where(
                    Support.campaign_id == self.campaigns.ids["sign"],
                    Support.confirmed_at.is_(None),
                    Support.email.like(f"{prefix}.%"),
                )
            ).scalars()
            confirms = [
                self._environ("GET", f"/supports/confirm/{support_token('confirm-support', s)}", "", {})
                for s in pending
            ]
            db.session.rollback()
        assert len(confirms) == count, (len(confirms), count)
        sign_servers = dict(self.servers_spent)
        figures = {"sign": sign, "confirm": self._run("confirm", confirms, 200, profile, top)}
        figures.update(sign_servers)
        figures.update(self.servers_spent)
        if self.ceilings:
            figures.update(self._ceilings(prefix, count, profile, top))
        return figures

    def _ceilings(self, prefix: str, count: int, profile, top: int) -> dict[str, float]:
        """The same sign requests (distinct supporters) to the bare ceiling and the lean
        prototype, with and without Flask."""
        from bench import supporters

        slug = self.campaigns.slugs["sign"]
        figures = {}
        for name, under in CEILINGS.items():
            first = self.next_address
            self.next_address += count
            if name.startswith("bare"):
                requests = supporters.bare_sign_requests(
                    slug,
                    f"{prefix}-{name}",
                    count,
                    first,
                    self.base_url,
                    route="support-owed" if name == "bare-owed" else "support",
                )
            else:
                with self.app.app_context():
                    requests = [
                        (method, path.replace("/petitions/", under, 1), body, headers)
                        for method, path, body, headers in supporters.sign_requests(
                            self.app, slug, f"{prefix}-{name}", count, first, self.base_url
                        )
                    ]
            environs = [self._environ(*request) for request in requests]
            figures[name] = self._run(name, environs, 303, profile, top, app=self.ceilings)
            figures.update(self.servers_spent)
        return figures

    def _environ(self, method: str, path: str, body: str, headers: dict) -> dict:
        parts = urlsplit(self.base_url)
        return EnvironBuilder(
            path=path,
            method=method,
            base_url=f"{parts.scheme}://{parts.netloc}",
            data=body.encode() if body else None,
            headers=headers,
        ).get_environ()

    def _run(self, name: str, environs: list[dict], status: int, profile, top: int, app=None) -> float:
        """Each request through the app; returns CPU ms per request."""
        statuses: list[str] = []

        def start_response(status_line, _headers, _exc_info=None):
            statuses.append(status_line)

        # CPU time, not wall time: waiting on PostgreSQL or Redis costs the process nothing.
        profiler = cProfile.Profile(time.process_time) if name in profile else None
        from bench.scenarios import _tree_cpu

        servers = {server: _tree_cpu(pids) for server, pids in self.servers.items()}
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        app = app or self.app

        def answer(environ: dict) -> None:
            body = app(environ, start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close:
                close()

        if self.greenlets > 1:
            import gevent

            waiting = iter(environs)  # each greenlet takes the next request once it is answered
            gevent.joinall(
                [gevent.spawn(lambda: [answer(e) for e in waiting]) for _ in range(self.greenlets)],
                raise_error=True,
            )
        else:
            for environ in environs:
                answer(environ)
        if profiler:
            profiler.disable()
        spent = time.process_time() - cpu
        self.servers_spent = {
            f"{name} {server}": (_tree_cpu(self.servers[server]) - before) / len(environs) * 1000
            for server, before in servers.items()
        }
        wrong = [s for s in statuses if not s.startswith(str(status))]
        assert not wrong, f"{name}: {len(wrong)} answered {wrong[:3]}"
        if profiler:
            if self.dump:
                self.dump.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(self.dump / f"{name}.pstats")
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
                print(f"--- {name}, by {order} ({len(environs)} requests)\n{out.getvalue()}")
        return spent / len(environs) * 1000


if __name__ == "__main__":
    main()
