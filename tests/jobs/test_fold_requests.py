"""Fold requests: under load one fold job a second serves every confirmation."""

import pytest

from campaign.outbox import request_fold
from campaign.queue import get_queue


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


def test_without_a_standing_period_each_fold_clears_the_request(app, run_jobs):
    assert app.config["FOLD_REQUEST_SECONDS"] == 0
    request_fold()
    request_fold()
    assert queued_folds() == 1
    run_jobs()
    request_fold()  # the job cleared the flag as it started: changes since ask again
    assert queued_folds() == 1
