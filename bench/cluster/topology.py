"""The production topology on one machine: each host its own network namespace.

Hosts talk over a bridge as separate machines would (their own addresses, no loopback
shortcuts):

    lb       HAProxy, health-checking the app hosts (/healthz)
    app1-3   gunicorn serving the app
    pg1 pg2  PostgreSQL primary and streaming replica (pg_basebackup)
    redis1 2 Redis primary and replica; a Sentinel on each, and a third on work1
    work1 2  RQ workers and the clock
    mail     an SMTP sink

The app reaches Redis through Sentinel, the primary database through a multi-host URL with
``target_session_attrs=read-write`` and the replica for public reads. Making namespaces
needs root; :func:`require_root` says so otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.cluster.nodes import NodeError, PgNode, RedisNode, sentinel_primary, wait_until_watching
from bench.stack import Proc

ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.213.0"
BRIDGE = "gs-br0"
DB_NAME = "groundswell"
SERVICE = "groundswell"
WEB_PORT = 8000
HOSTS = {
    "lb": 10,
    "app1": 11,
    "app2": 12,
    "app3": 13,
    "pg1": 21,
    "pg2": 22,
    "redis1": 31,
    "redis2": 32,
    "work1": 41,
    "work2": 42,
    "mail": 51,
}


def address(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def netns(host: str) -> str:
    return f"gs-{host}"


class ClusterError(RuntimeError):
    pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise ClusterError(
            "The cluster makes a network namespace per host: run it as root "
            "(CI and the development machines run as root)."
        )
    for tool in ("ip", "haproxy"):
        if shutil.which(tool) is None:
            raise ClusterError(
                f"{tool} is missing: `make cluster` installs it "
                "(apt-get install iproute2 haproxy redis-server redis-sentinel)"
            )


def _ip(*args: str, ns: str | None = None, check: bool = True) -> None:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    result = subprocess.run([*prefix, "ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def make_network() -> None:
    """The bridge (the root namespace is on it as .1, to drive load) and one namespace per
    host, each with a veth on the bridge. Leftovers of an earlier run are removed first."""
    remove_network()
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for host in HOSTS:
        ns = netns(host)
        veth = f"gsv-{host}"
        _ip("netns", "add", ns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "set", veth, "master", BRIDGE, "up")
        _ip("addr", "add", f"{address(host)}/24", "dev", "eth0", ns=ns)
        _ip("link", "set", "eth0", "up", ns=ns)
        _ip("link", "set", "lo", "up", ns=ns)


def remove_network() -> None:
    for host in HOSTS:
        _ip("netns", "delete", netns(host), check=False)
        _ip("link", "delete", f"gsv-{host}", check=False)
    _ip("link", "delete", BRIDGE, check=False)


def cut_from_database(host: str) -> None:
    """Host ``host`` can no longer reach either database server (connections refused)."""
    for pg in ("pg1", "pg2"):
        _ip("route", "add", "prohibit", f"{address(pg)}/32", ns=netns(host))


def reconnect_to_database(host: str) -> None:
    for pg in ("pg1", "pg2"):
        _ip("route", "delete", "prohibit", f"{address(pg)}/32", ns=netns(host), check=False)


HAPROXY_CONFIG = """\
global
    maxconn 4000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 5s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
    # The bench and the cluster run give each simulated supporter an address of its own.
    option forwardfor if-none
frontend web
    bind {lb}:80
    default_backend app
    stats enable
    stats uri /haproxy-stats
backend app
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host {lb}
    http-check expect status 200
    default-server inter 500ms fall 3 rise 2 check
{servers}
"""


@dataclass
class Cluster:
    app_hosts: int = 3
    workers_per_host: int = 1
    gunicorn_workers: int = 2
    gunicorn_threads: int = 4
    sweep_every_seconds: int = 10  # the sweeper's period, and the age of work it calls lost
    sweep_after_seconds: int = 15
    log: object = print
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gsc-")))
    procs: dict[str, Proc] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dir.chmod(0o755)
        self.logs = self.dir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.pg = {
            name: PgNode(name, self.dir / name, address(name), 5432, netns(name)) for name in ("pg1", "pg2")
        }
        self.redis = {
            name: RedisNode(name, self.dir / "redis", address(name), 6379, netns(name))
            for name in ("redis1", "redis2")
        }
        self.sentinels = [
            RedisNode(f"sentinel-{h}", self.dir / "redis", address(h), 26379, netns(h))
            for h in ("redis1", "redis2", "work1")
        ]

    @property
    def url(self) -> str:
        return f"http://{address('lb')}/"

    @property
    def apps(self) -> list[str]:
        return [f"app{i}" for i in range(1, self.app_hosts + 1)]

    # ------------------------------------------------------------------ processes

    def spawn(self, name: str, host: str, args: list[str], **popen) -> Proc:
        log = self.logs / f"{name}.log"
        fh = log.open("ab")
        options = {"stdin": subprocess.DEVNULL, "stdout": fh, "stderr": fh, **popen}
        popen_obj = subprocess.Popen(
            ["ip", "netns", "exec", netns(host), *args],
            cwd=ROOT,
            env=self.env or None,
            start_new_session=True,
            **options,
        )
        fh.close()
        proc = Proc(name, popen_obj, log)
        self.procs[name] = proc
        return proc

    def flask(self, host: str, *args: str) -> str:
        result = subprocess.run(
            ["ip", "netns", "exec", netns(host), sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise ClusterError(f"flask {' '.join(args)} on {host}:\n{result.stdout}{result.stderr}")
        return result.stdout

    # ------------------------------------------------------------------ start and stop

    def start(self) -> None:
        """Everything, as much of it at once as can be: PostgreSQL (a primary and its replica)
        while Redis, the Sentinels and the SMTP sink start; the app hosts, workers and the
        balancer while the database is migrated (only the clocks wait for it)."""
        require_root()
        started = time.monotonic()
        self.log(f"Making the network: a namespace per host on bridge {BRIDGE} ({SUBNET}.0/24)…")
        make_network()
        self.log(
            "Starting PostgreSQL on pg1 and a streaming replica on pg2 (pg_basebackup); Redis on "
            "redis1, its replica on redis2, three Sentinels; the SMTP sink on mail…"
        )
        failed: list[BaseException] = []
        postgres = threading.Thread(target=self._start_postgres, args=(failed,), name="start-postgres")
        postgres.start()
        try:
            self.redis["redis1"].start_server()
            self.redis["redis2"].start_server(replica_of=self.redis["redis1"])
            for node in self.sentinels:
                node.start_sentinel(SERVICE, self.redis["redis1"])
            self.sink = self.spawn(
                "mail",
                "mail",
                [sys.executable, "-m", "bench.smtp_sink", "2525", address("mail")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            line = self.sink.popen.stdout.readline()
            if not line or not json.loads(line).get("ready"):
                raise ClusterError(f"the SMTP sink did not start:\n{self.sink.tail()}")
        finally:
            postgres.join()
        if failed:
            raise failed[0]
        self.configure()
        self.log(
            f"Migrating the database (from app1) while gunicorn starts on {', '.join(self.apps)}, "
            "workers on work1 and work2 and HAProxy on lb…"
        )
        migration = subprocess.Popen(
            ["ip", "netns", "exec", netns("app1"), sys.executable, "-m", "flask", "--app", "wsgi"]
            + ["db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for host in self.apps:
            self.start_app(host)
        for host in ("work1", "work2"):
            for i in range(self.workers_per_host):
                self.spawn(
                    f"worker-{host}-{i}",
                    host,
                    [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--quiet"],
                )
        self.start_lb()
        output, _ = migration.communicate(timeout=300)
        if migration.returncode != 0:
            raise ClusterError(f"flask db upgrade on app1:\n{output}")
        self.log("Migrated; starting a clock on work1 and on work2…")
        for host in ("work1", "work2"):
            self.spawn(f"clock-{host}", host, [sys.executable, "-m", "flask", "--app", "wsgi", "clock"])
        # A failover needs Sentinels that know the replica and each other.
        wait_until_watching(self.sentinels, SERVICE)
        self.wait_healthy(self.apps, timeout=120)
        self.log(f"Ready in {time.monotonic() - started:.0f} s.")

    def _start_postgres(self, failed: list[BaseException]) -> None:
        try:
            pg1, pg2 = self.pg["pg1"], self.pg["pg2"]
            pg1.init_primary(network=f"{SUBNET}.0/24")
            pg1.start()
            pg1.wait_ready()
            with pg1.connect() as conn:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            pg2.init_replica_of(pg1)
            pg2.start()
            pg2.wait_ready()
        except BaseException as exc:  # noqa: BLE001 - raised again by start()
            failed.append(exc)

    def configure(self) -> None:
        storage = self.dir / "deliveries"
        storage.mkdir(exist_ok=True)
        from campaign.signing import new_private_key_pem

        keep = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "HOME", "VIRTUAL_ENV", "PYTHONPATH")
        }
        # tcp_user_timeout: a connection whose packets go unanswered (a host cut off) fails in
        # seconds instead of hanging on TCP's retransmissions for minutes.
        primary = (
            f"postgresql://postgres@/{DB_NAME}?host={address('pg1')}:5432"
            f"&host={address('pg2')}:5432&target_session_attrs=read-write"
            "&connect_timeout=2&tcp_user_timeout=3000"
        )
        self.env = {
            **keep,
            "GROUNDSWELL_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATABASE_URL": primary,
            "DATABASE_REPLICA_URL": f"postgresql://postgres@{address('pg2')}:5432/{DB_NAME}"
            "?connect_timeout=2&tcp_user_timeout=3000",
            "REDIS_SENTINELS": ",".join(f"{n.host}:{n.port}" for n in self.sentinels),
            "REDIS_SERVICE": SERVICE,
            "MAIL_URL": f"smtp://{address('mail')}:2525",
            "DELIVERY_STORAGE": str(storage),  # one folder: the hosts share this disk
            "MEDIA_STORAGE": str(self.dir / "media"),
            "SIGNING_KEY": new_private_key_pem(),
            "PUBLIC_URL": f"http://{address('lb')}",
            "TRUSTED_HOSTS": address("lb"),  # health checks name it too
            "PROXY_FIX": "1",
            "SWEEP_EVERY_SECONDS": str(self.sweep_every_seconds),
            "SWEEP_AFTER_SECONDS": str(self.sweep_after_seconds),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def start_app(self, host: str) -> Proc:
        return self.spawn(
            host,
            host,
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--bind",
                f"{address(host)}:{WEB_PORT}",
                "--workers",
                str(self.gunicorn_workers),
                "--threads",
                str(self.gunicorn_threads),
                "--worker-class",
                "gthread",
                "--reuse-port",  # a listening socket per worker: see bench/stack.py
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ],
        )

    def start_lb(self, hosts: list[str] | None = None) -> None:
        servers = "\n".join(f"    server {h} {address(h)}:{WEB_PORT}" for h in hosts or self.apps)
        conf = self.dir / "haproxy.cfg"
        conf.write_text(HAPROXY_CONFIG.format(lb=address("lb"), servers=servers))
        self.spawn("lb", "lb", ["haproxy", "-db", "-f", str(conf)])

    def set_backends(self, hosts: list[str]) -> None:
        """The load balancer sends to ``hosts`` only (restarted with them, then healthy)."""
        self.procs.pop("lb").stop()
        self.start_lb(hosts)
        self.wait_healthy(hosts)

    def lb_status(self) -> dict[str, str]:
        """Each app host's state as HAProxy sees it (UP, DOWN, …), from its stats CSV."""
        import urllib.request

        with urllib.request.urlopen(f"http://{address('lb')}/haproxy-stats;csv", timeout=5) as r:
            rows = r.read().decode().splitlines()
        header = rows[0].lstrip("# ").split(",")
        status = {}
        for row in rows[1:]:
            cells = dict(zip(header, row.split(","), strict=False))
            if cells.get("pxname") == "app" and cells.get("svname") in HOSTS:
                status[cells["svname"]] = cells["status"]
        return status

    def wait_healthy(self, hosts: list[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.lb_status()
            except OSError:
                status = {}
            if all(status.get(h, "").startswith("UP") for h in hosts):
                return
            for name, proc in self.procs.items():
                if name in hosts and not proc.alive():
                    raise ClusterError(f"{name} exited:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"app hosts not healthy behind the load balancer: {status}")
            time.sleep(0.25)

    def redis_primary(self) -> tuple[str, int] | None:
        return sentinel_primary(self.sentinels, SERVICE)

    def sink_recipients(self) -> dict[str, int]:
        path = self.dir / "recipients.json"
        self.sink.popen.stdin.write(f"dump {path}\n")
        self.sink.popen.stdin.flush()
        self.sink.popen.stdout.readline()
        return json.loads(path.read_text())

    def where(self) -> str:
        lines = [f"  {'lb':7} {address('lb'):12} HAProxy → {', '.join(self.apps)}  ({self.url})"]
        for host in self.apps:
            lines.append(
                f"  {host:7} {address(host):12} gunicorn, {self.gunicorn_workers} workers × "
                f"{self.gunicorn_threads} threads"
            )
        lines += [
            f"  {'pg1':7} {address('pg1'):12} PostgreSQL primary",
            f"  {'pg2':7} {address('pg2'):12} PostgreSQL streaming replica (public reads)",
            f"  {'redis1':7} {address('redis1'):12} Redis primary, Sentinel",
            f"  {'redis2':7} {address('redis2'):12} Redis replica, Sentinel",
            f"  {'work1':7} {address('work1'):12} {self.workers_per_host} RQ worker(s), clock, Sentinel",
            f"  {'work2':7} {address('work2'):12} {self.workers_per_host} RQ worker(s), clock",
            f"  {'mail':7} {address('mail'):12} SMTP sink",
        ]
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop everything: every process told at once, then waited for (the data goes with
        the folder, so the servers are not shut down cleanly)."""
        sink = getattr(self, "sink", None)
        if sink is not None and sink.popen.stdin:
            try:
                sink.popen.stdin.close()
            except OSError:
                pass
        procs = list(reversed(list(self.procs.values())))
        for proc in procs:
            if proc.alive():
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in procs:
            proc.stop(timeout=10)
        for node in [*self.sentinels, *self.redis.values()]:
            node.kill()
        for node in self.pg.values():
            node.stop("immediate")
        remove_network()
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> int:
    """``make cluster``: start the topology, print where everything runs, stop on Ctrl-C."""
    try:
        require_root()
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 2
    cluster = Cluster()
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        cluster.start()
        print(
            f"\nGroundswell cluster at {cluster.url}\n{cluster.where()}\n"
            f"Logs: {cluster.logs}\nCtrl-C stops it all.",
            flush=True,
        )
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping the cluster…", flush=True)
    except (ClusterError, NodeError) as exc:
        print(f"The cluster did not start: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0
