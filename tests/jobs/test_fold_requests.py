"""Fold requests: under load one fold job a second serves every confirmation."""

import time

import pytest

from campaign.outbox import FOLD_REQUEST_SCRIPT, FOLD_REQUESTED, request_fold
from campaign.queue import get_queue, redis_connection


def queued_folds() -> int:
    return sum(1 for job in get_queue("high").get_jobs() if job.func_name.endswith("fold_counts_job"))


@pytest.mark.app_config(FOLD_REQUEST_SECONDS=60)
def test_a_standing_request_serves_every_confirmation_meanwhile(app, run_jobs):
    for _ in range(50):
        request_fold()
    assert queued_folds() == 1
    run_jobs()
    request_fold()  # the job left the request standing: no second job within the period
    assert queued_folds() == 0


@pytest.mark.app_config(FOLD_REQUEST_SECONDS=60)
def test_a_process_asks_redis_again_only_once_the_request_it_knows_of_lapsed(app, run_jobs):
    conn = redis_connection()
    # Another process's request, standing 1 s more: time enough for the twenty calls below on a
    # busy machine (with 0.3 s, one run of a loaded suite saw it lapse among them).
    conn.set(FOLD_REQUESTED, 1, px=1000)
    # The script known to this Redis, as after any earlier fold request: a first run on a fresh
    # server is refused (NOSCRIPT), loaded and sent again, two EVALSHA for one request.
    conn.script_load(FOLD_REQUEST_SCRIPT)
    calls = []
    real = type(conn).execute_command

    def counting(self, *args, **options):
        if args[0] in ("EVALSHA", "EVAL", "SET"):
            calls.append(args[0])
        return real(self, *args, **options)

    type(conn).execute_command = counting
    try:
        for _ in range(20):
            request_fold()
        assert len(calls) == 1 and queued_folds() == 0  # told what is left, not asked again
        time.sleep(1.05)
        request_fold()  # lapsed: this process asks, sets it and enqueues the fold
        request_fold()
    finally:
        type(conn).execute_command = real
    assert len(calls) == 2 and queued_folds() == 1
    assert 59_000 < conn.pttl(FOLD_REQUESTED) <= 60_000


def test_without_a_standing_period_each_fold_clears_the_request(app, run_jobs):
    assert app.config["FOLD_REQUEST_SECONDS"] == 0
    request_fold()
    request_fold()
    assert queued_folds() == 1
    run_jobs()
    request_fold()  # the job cleared the flag as it started: changes since ask again
    assert queued_folds() == 1
