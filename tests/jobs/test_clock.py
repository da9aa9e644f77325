"""The clock enqueues each periodic job once per slot, however many clocks tick."""

from datetime import UTC, datetime

import pytest

from campaign.clock import tick
from campaign.queue import get_queue


def test_each_job_is_enqueued_once_per_interval(app):
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert sorted(tick(noon)) == ["close-due", "fold-counts", "momentum", "sweep"]
    assert tick(noon) == []  # a second clock, same moment: nothing more
    assert get_queue("high").count == 1 and get_queue("default").count == 2
    assert get_queue("bulk").count == 1


def test_the_nightly_recount_runs_once_in_its_hour(app):
    three = datetime(2026, 11, 23, 3, 5, tzinfo=UTC)
    assert "recount" in tick(three)
    assert "recount" not in tick(datetime(2026, 11, 23, 3, 50, tzinfo=UTC))
    assert "recount" in tick(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))


def test_clock_jobs_run_in_a_real_worker(app, run_jobs):
    tick(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    assert run_jobs() == 5  # fold, close, sweep, momentum, recount
    assert "anonymise" in tick(datetime(2026, 11, 23, 4, 0, tzinfo=UTC))


def test_clock_skip_leaves_out_the_jobs_it_names(app):
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    app.config["CLOCK_SKIP"] = ("momentum",)
    assert sorted(tick(noon)) == ["close-due", "fold-counts", "sweep"]
    app.config["CLOCK_SKIP"] = ()
    assert tick(noon) == ["momentum"]  # its slot was never taken


def test_clock_skip_with_a_name_that_is_no_job_stops_the_clock(app):
    app.config["CLOCK_SKIP"] = ("momentum", "momentun")
    with pytest.raises(RuntimeError, match="CLOCK_SKIP names no periodic job: momentun"):
        tick(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    assert get_queue("default").count == 0 and get_queue("bulk").count == 0


def test_clock_skip_is_read_from_the_environment(monkeypatch):
    from flask import Flask

    from campaign.config import load_environment

    monkeypatch.setenv("CLOCK_SKIP", " momentum, recount ,")
    app = Flask(__name__)
    load_environment(app)
    assert app.config["CLOCK_SKIP"] == ("momentum", "recount")
