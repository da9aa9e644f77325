"""The bench's choice of gunicorn's shape (``bench.scenarios._score_shapes``): each shape scored
on the mean of its trials, against the best shape whose every trial was good."""

from __future__ import annotations

from bench.scenarios import _score_shapes


def trial(worker_class, workers, sign_per_s, count_per_s, p99_ms=20.0, errors=0):
    return {
        "worker_class": worker_class,
        "workers": workers,
        "threads": 1,
        "per_s": sign_per_s,
        "p99_ms": p99_ms,
        "errors": errors,
        "count_json": {"per_s": count_per_s, "errors": 0},
    }


def by_shape(scored):
    return {(s["worker_class"], s["workers"]): s for s in scored}


def test_a_shape_measured_twice_is_scored_on_the_mean_of_its_trials():
    first = [trial("gevent", 2, 1348, 17912), trial("gevent", 3, 1481, 17885), trial("sync", 2, 1000, 8000)]
    once = by_shape(_score_shapes(first))
    assert max(once.values(), key=lambda s: s["score"])["workers"] == 3  # the noisy trial wins
    assert once[("gevent", 3)]["score"] == round(1 + 17885 / 17912, 3)  # the best signing

    again = [trial("gevent", 3, 1521, 17885), trial("gevent", 2, 1752, 17912)]
    twice = by_shape(_score_shapes([*first, *again]))
    assert twice[("gevent", 2)]["trials"] == 2 and twice[("gevent", 2)]["per_s"] == 1550
    assert twice[("gevent", 3)]["per_s"] == 1501
    assert max(twice.values(), key=lambda s: s["score"])["workers"] == 2
    assert twice[("sync", 2)]["trials"] == 1


def test_a_shape_with_a_bad_trial_is_not_good_and_not_the_yardstick():
    scored = by_shape(
        _score_shapes(
            [
                trial("gevent", 4, 2000, 20000, p99_ms=150),  # fast, but its p99 is over 100 ms
                trial("gevent", 2, 1500, 15000),
            ]
        )
    )
    assert scored[("gevent", 4)]["good"] is False and scored[("gevent", 2)]["good"] is True
    assert scored[("gevent", 2)]["score"] == 2.0  # measured against the good shapes only
    assert scored[("gevent", 4)]["score"] > 2.0


def test_when_no_shape_is_good_every_shape_is_the_yardstick():
    failing = [trial("sync", 2, 900, 9000, errors=3), trial("sync", 3, 600, 9000, errors=1)]
    scored = by_shape(_score_shapes(failing))
    assert scored[("sync", 2)]["score"] == 2.0 and scored[("sync", 3)]["score"] == round(600 / 900 + 1, 3)
