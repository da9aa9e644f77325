"""The benchmark harness keeps working: one smoke run of ``python -m bench`` (``make bench``).

A few seconds per scenario against the real production shape (gunicorn, PostgreSQL, Redis, RQ
workers, an SMTP sink, wrk). It checks that every scenario reports its figures and that what
must hold at any size holds (the rate limit is on, no email is sent twice or lost, counts are
exact); it does not judge speed, which only ``make bench`` measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from numbers import Number
from pathlib import Path

import pytest

from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.system


def test_smoke_run_reports_every_scenario(tmp_path):
    out = tmp_path / "bench.json"
    # The bench configures its own processes; nothing from the test session leaks into them.
    env = {k: v for k, v in os.environ.items() if k not in ("GROUNDSWELL_ENV", "XDG_RUNTIME_DIR")}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = bench.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the bench then stops the servers it started in their own
        # sessions, which would otherwise outlive it.
        bench.terminate()
        stdout, stderr = bench.communicate(timeout=60)
        raise AssertionError("the smoke run took over 300 s:\n" + stdout[-4000:]) from None
    print(stdout, end="", flush=True)  # its log and table, shown with -s
    assert bench.returncode == 0, stdout[-4000:] + stderr[-4000:]
    data = json.loads(out.read_text())

    assert list(data["scenarios"]) == list(SCENARIOS)
    for name, scenario in data["scenarios"].items():
        assert "error" not in scenario, (name, scenario.get("traceback"))
        assert scenario["figures"], name
        for fig in scenario["figures"]:
            if "target" in fig:
                assert isinstance(fig["target"]["value"], Number), (name, fig)
            if fig.get("bare") is not None:
                assert isinstance(fig["bare"], Number), (name, fig)
    assert data["seeding"]["supports"] == 2_000 and data["seeding"]["seconds"] > 0
    assert data["gunicorn"]["workers"] >= 1

    surge = data["scenarios"]["surge"]
    assert surge["app"]["good"] > 0 and surge["bare"]["good"] > 0
    # Each side's signing is two runs, alternated with the other's (bare, app, app, bare).
    for side in ("app", "bare"):
        segments = surge[side]["segments"]
        assert [s["good"] > 0 for s in segments] == [True, True], surge[side]
        assert surge[side]["good"] == sum(s["good"] for s in segments), surge[side]
    assert surge["rate_limit"]["active"], surge["rate_limit"]
    assert surge["lean"]["good"] > 0 and surge["lean"]["stored"] > 0, surge["lean"]
    # The ceiling writes each support's owed email as the app does; the plain route runs after.
    assert surge["bare_without_owed_row"]["good"] > 0, surge["bare_without_owed_row"]
    confirmation = data["scenarios"]["confirmation"]
    assert confirmation["all_counted"]
    # Confirming in turns with the bare ceiling too (bare, app, app, bare), each half its links.
    for side in ("app", "bare"):
        segments = confirmation[side]["segments"]
        assert [s["good"] > 0 for s in segments] == [True, True], confirmation[side]
        assert confirmation[side]["good"] == sum(s["good"] for s in segments), confirmation[side]
    # Signing with the workers sending: every email owed was sent, once.
    end_to_end = data["scenarios"]["surge-end-to-end"]
    assert end_to_end["app"]["good"] > 0 and end_to_end["emails_in_all"] > 0, end_to_end
    # …read against the same signing with the workers stopped, in turns with it: alone,
    # sending, alone, sending, alone.
    assert [s["good"] > 0 for s in end_to_end["alone"]["segments"]] == [True, True, True], end_to_end
    turns = end_to_end["turns_sending"]
    assert [t["per_s"] > 0 and t["emails_in_all"] > 0 for t in turns] == [True, True], end_to_end
    assert end_to_end["app"]["good"] == sum(s["good"] for s in end_to_end["app"]["segments"]), end_to_end
    assert end_to_end["emails_in_all"] == sum(t["emails_in_all"] for t in turns), end_to_end
    share = end_to_end["app"]["per_s"] / end_to_end["alone"]["per_s"]
    assert abs(end_to_end["share_of_alone"] - share) < 0.01, end_to_end
    assert end_to_end["left_unsent_after_drain"] == 0 and end_to_end["duplicates"] == 0, end_to_end
    # …and the bare ceiling's: every owed email of its signing sent by the bare dispatcher, once.
    bare_e2e = end_to_end["bare_end_to_end"]
    assert bare_e2e["alone"]["good"] > 0 and bare_e2e["with_dispatcher"]["good"] > 0, bare_e2e
    assert bare_e2e["dispatcher"]["sent"] == bare_e2e["sink_messages"] > 0, bare_e2e
    assert bare_e2e["sink_duplicates"] == 0 and bare_e2e["owed_left"] == 0, bare_e2e
    # Browsing: the two sizes are two databases, each sort loaded at both in turns, and each
    # sort's first page lists as many campaigns at both (a page of fewer cards is cheaper).
    browse = data["scenarios"]["search"]["browse"]
    assert browse["small"]["campaigns"] < browse["large"]["campaigns"], browse
    assert browse["small"]["listed"] == browse["large"]["listed"], browse
    for size in ("small", "large"):
        for sort, load in browse[size]["sorts"].items():
            assert load["good"] > 0 and load["errors"] == 0 and len(load["segments"]) == 1, (size, sort)
        assert set(browse[size]["page_bytes"]) == set(browse[size]["sorts"]), browse[size]
    for sort, small_bytes in browse["small"]["page_bytes"].items():  # alike pages, compared
        assert abs(browse["large"]["page_bytes"][sort] / small_bytes - 1) < 0.1, (sort, browse)
    delivery = data["scenarios"]["delivery"]["checks"]
    assert delivery["state"] == "sent" and delivery["seal_valid"]
    assert delivery["csv_rows"] == delivery["support_count"] == 2_000
    fanout = data["scenarios"]["fanout"]
    for run in (fanout["one_by_one"], fanout["pipelined"]):  # the sink without, then with PIPELINING
        assert run["app"]["duplicates"] == 0 and run["app"]["missing"] == 0, run["app"]
        assert run["bare"]["duplicates"] == 0 and run["bare"]["missing"] == 0, run["bare"]
        assert run["sink_ceiling"]["per_s"] > 0
    assert data["scenarios"]["exactness"]["figures"][0]["app"] is True
    # The clock's jobs the run leaves out, timed at its end: the recount of the big campaign
    # finds nothing to repair, and each timing is there.
    jobs = data["scenarios"]["exactness"]["background_jobs"]
    assert jobs["drifted"] == 0 and jobs["supports"] > 0, jobs
    assert len(jobs["recount_runs_ms"]) == len(jobs["bare_runs_ms"]) == 3, jobs
    assert jobs["recount_ms"] > 0 and jobs["bare_recount_ms"] > 0 and jobs["refresh_ms"] > 0, jobs
