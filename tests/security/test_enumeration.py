"""Account enumeration: login, reset, new verification link and sign-up answer alike, with
the same work and similar timing, for addresses that have an account and those that do not."""

from __future__ import annotations

import re
import statistics
import time

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import User
from campaign.queue import get_queue
from tests.factories import make_user
from tests.helpers import post_form

# Production's hashing, so that a path that skipped the hash would stand out.
pytestmark = pytest.mark.app_config(PASSWORD_HASH_METHOD="scrypt")

KNOWN = "ada@example.org"
UNKNOWN = "nobody@example.org"


def _answer(response) -> str:
    text = re.sub(r'name="csrf_token"[^>]*>', "", response.get_data(as_text=True))
    return text.replace(KNOWN, "<email>").replace(UNKNOWN, "<email>")


def _median_seconds(client, url, data, n=5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        post_form(client, url, data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _similar(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.35 * max(a, b), 0.004)


@pytest.mark.parametrize(("url", "fields"), [
    ("/login", {"password": "wrong password"}),
    ("/reset", {}),
    ("/verify-email", {}),
])
def test_known_and_unknown_addresses_get_the_same_answer_and_time(client, url, fields):
    make_user(KNOWN, verified=False)
    answers = [_answer(post_form(client, url, {"email": e, **fields}, follow_redirects=True))
               for e in (KNOWN, UNKNOWN)]
    assert answers[0] == answers[1]
    known = _median_seconds(client, url, {"email": KNOWN, **fields})
    unknown = _median_seconds(client, url, {"email": UNKNOWN, **fields})
    assert _similar(known, unknown), (url, known, unknown)


@pytest.mark.parametrize("url", ["/reset", "/verify-email"])
def test_reset_and_new_links_do_the_same_work_for_unknown_addresses(client, run_jobs, outbox,
                                                                     url):
    make_user(KNOWN, verified=False)
    high = get_queue("high")
    post_form(client, url, {"email": UNKNOWN})
    assert high.count == 1  # the lookup is the job's, not the page's
    post_form(client, url, {"email": KNOWN})
    assert high.count == 2
    run_jobs()
    assert [m["To"] for m in outbox()] == [KNOWN]


def test_sign_up_takes_as_long_for_a_taken_address(client):
    make_user(KNOWN)
    form = {"name": "Someone", "password": "long enough pw", "confirm": "long enough pw"}

    def timed(email):
        start = time.perf_counter()
        response = post_form(client, "/signup", {**form, "email": email})
        return time.perf_counter() - start, response

    taken = [timed(KNOWN) for _ in range(3)]
    fresh = [timed(f"new{n}@example.org") for n in range(3)]
    assert {r.headers["Location"] for _, r in taken + fresh} == {"/signup/check-email"}
    assert _similar(statistics.median(t for t, _ in taken), statistics.median(t for t, _ in fresh))
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 4
