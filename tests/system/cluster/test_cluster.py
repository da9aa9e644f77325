"""The production topology survives its failures (see :mod:`tests.system.cluster.run`) while
supporters sign and confirm through the load balancer. ``make cluster-chaos`` runs it full and
prints its figures: an app host killed, a Redis failover through Sentinel, a PostgreSQL
promotion, an app host cut off from the database. ``make test`` runs it small, with two
failures only (the Redis failover, an app host killed); the promotion is also checked by
tests/system/test_replicas.py. Root is needed for the network namespaces (CI and these machines run
as root)."""

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
TIMEOUTS = {"small": 600, "full": 1500}


@pytest.mark.system
@pytest.mark.cluster
def test_the_cluster_heals_every_failure_and_loses_nothing(tmp_path):
    if os.geteuid() != 0:
        pytest.fail(
            "The cluster run makes a network namespace per host and needs root "
            "(run `make test` as root, as CI does)."
        )
    size = os.environ.get("CLUSTER_SIZE", "small")
    out = tmp_path / "cluster.json"
    env = {k: v for k, v in os.environ.items() if k not in ("GROUNDSWELL_ENV", "XDG_RUNTIME_DIR")}
    lines = []
    with subprocess.Popen(
        [sys.executable, "-m", "tests.system.cluster.run", "--size", size, "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        timer = threading.Timer(TIMEOUTS[size], proc.send_signal, [signal.SIGTERM])
        timer.start()
        try:
            for line in proc.stdout:
                lines.append(line)
                print(line, end="", flush=True)
            proc.wait(60)
        finally:
            timer.cancel()
    output = "".join(lines)
    assert proc.returncode != 130, f"the cluster run took more than {TIMEOUTS[size]} s"
    assert out.exists(), output[-4000:]
    figures = json.loads(out.read_text())
    failed = {name: check for name, check in figures["checks"].items() if not check["ok"]}
    assert not failed, json.dumps(failed, indent=1, default=str)[:4000]
    # Each failure happened and healed, and the killed host came back.
    faults = ["app", "Redis", "PostgreSQL", "app"] if size == "full" else ["Redis", "app"]
    assert [f["fault"].split()[0] for f in figures["faults"]] == faults
    assert all(f["healed in s"] is not None for f in figures["faults"]), figures["faults"]
    assert "app1" in figures["back in rotation after s"], figures
    assert figures["checks"]["no acknowledged support lost"]["acknowledged"] > 0
    assert proc.returncode == 0, output[-4000:]
