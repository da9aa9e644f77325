"""`make run`'s launcher, as a user runs it: real processes (gunicorn, worker, clock, Redis).

Stopped with SIGTERM it stops every child; killed outright (SIGKILL, no chance to clean up)
its children are told by the kernel and stop on their own instead of serving as orphans.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from campaign.config import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc while they are alive)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {pid for pid in pids if alive(pid)}
        if not left:
            return left
        time.sleep(0.2)
    return {pid for pid in pids if alive(pid)}


def start_launcher(instance: Path, port: int) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "MAIL_URL", "DELIVERY_STORAGE"}
    }
    env.update(GROUNDSWELL_INSTANCE=str(instance), PORT=str(port), GROUNDSWELL_ENV="development")
    log = instance.parent / f"launcher-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "campaign.launcher"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 240  # migrations and the demo seed, on a busy machine
    while "Groundswell is running" not in log.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)
    return proc


def test_sigterm_stops_every_child_and_sigkill_leaves_no_orphans(tmp_path):
    port = free_port()
    seen: set[int] = set()
    launcher = start_launcher(tmp_path / "instance", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
            assert "gunicorn" in page.headers.get("Server", "")
        children = descendants(launcher.pid)
        seen |= children
        # Redis, gunicorn (its master and two workers), the worker, the clock.
        assert len(children) >= 6, children
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
        assert wait_until_gone(children, 30) == set()

        # Again, but the launcher is killed outright: the children notice and stop.
        launcher = start_launcher(tmp_path / "instance", port)
        children = descendants(launcher.pid)
        seen |= children
        assert len(children) >= 6, children
        launcher.kill()
        launcher.wait(timeout=10)
        assert wait_until_gone(children, 60) == set()
    finally:
        if launcher.poll() is None:
            launcher.kill()
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
