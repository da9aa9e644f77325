"""The chaos run passes: faults injected into the production shape lose, duplicate and leave
undone nothing (see :mod:`tests.system.chaos.run`). ``make test`` runs it small (``CHAOS_SIZE=small``,
the default: about two minutes, three on a busy machine); ``make chaos`` runs it full and
prints its figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
#: Each size's own bound (see SIZES in run.py) plus the time to start and stop everything.
TIMEOUTS = {"small": 480, "full": 1500}


@pytest.mark.system
@pytest.mark.chaos
def test_faults_lose_duplicate_and_leave_undone_nothing(tmp_path):
    size = os.environ.get("CHAOS_SIZE", "small")
    out = tmp_path / "chaos.json"
    # The run configures its own processes (production); nothing of the test session leaks in.
    env = {k: v for k, v in os.environ.items() if k not in ("GROUNDSWELL_ENV", "XDG_RUNTIME_DIR")}
    lines = []
    with subprocess.Popen(
        [sys.executable, "-m", "tests.system.chaos.run", "--size", size, "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        timer = threading.Timer(TIMEOUTS[size], proc.send_signal, [signal.SIGTERM])  # it stops all
        timer.start()
        try:
            for line in proc.stdout:
                lines.append(line)
                print(line, end="", flush=True)  # the figures, shown with -s (make chaos)
            proc.wait(60)
        finally:
            timer.cancel()
    assert proc.returncode != 130, f"the chaos run took more than {TIMEOUTS[size]} s"
    output = "".join(lines)
    assert out.exists(), output[-4000:]
    figures = json.loads(out.read_text())
    failed = {name: check for name, check in figures["checks"].items() if not check["ok"]}
    assert not failed, json.dumps(failed, indent=1, default=str)[:4000]
    assert proc.returncode == 0, output[-4000:]

    # What was injected really happened.
    kills = figures["kills"]
    assert any(k["what"] == "main process only" for k in kills)
    assert len([k for k in kills if k["what"] != "main process only"]) >= (9 if size == "full" else 2)
    assert {"redis (clean)", "redis (after SIGKILL)", "postgresql"} <= set(figures["restarts"])
    assert figures["lock_contention"]["held_s"] > 0 and figures["lock_contention"]["folds"] > 0
    checks = figures["checks"]
    assert checks["every milestone notified"]["goal recipients"] > 0
    assert checks["503 (not 500) inside them"]["answers inside"] > 0
    assert checks["confirmed supports lost"]["acknowledged"] > 0
