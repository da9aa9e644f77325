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

# Scrypt, as in production, so that a path that skipped the hash would stand out, at a
# quarter of Werkzeug's default memory and work: 15 ms a hash here against 85 ms, still
# several times a page's own few ms. Production's own hashing is checked once, by the last
# test of this file.
pytestmark = pytest.mark.app_config(PASSWORD_HASH_METHOD="scrypt:8192:8:1")

KNOWN = "ada@example.org"
UNKNOWN = "nobody@example.org"


def _answer(response) -> str:
    text = re.sub(r'name="csrf_token"[^>]*>', "", response.get_data(as_text=True))
    return text.replace(KNOWN, "<email>").replace(UNKNOWN, "<email>")


def _timed(client, url, data) -> float:
    """The processor time the request took. The test client runs it in this thread, so this
    is its own work (the hash is most of it), whatever else the machine is doing: wall time,
    read on a loaded machine, once put a median at twice the other's."""
    start = time.thread_time()
    post_form(client, url, data)
    return time.thread_time() - start


def _medians(client, url, first: dict, second: dict, n: int = 7) -> tuple[float, float]:
    """Median times of posting ``first`` and ``second``, interleaved so that load from other
    processes on the machine weighs on both alike."""
    times = [(_timed(client, url, first), _timed(client, url, second)) for _ in range(n)]
    return statistics.median(a for a, _ in times), statistics.median(b for _, b in times)


def _similar(a: float, b: float) -> bool:
    # Skipping the hash would make one side several times faster (scrypt dominates).
    return abs(a - b) <= max(0.5 * max(a, b), 0.005)


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/login", {"password": "wrong password"}),
        ("/reset", {}),
        ("/verify-email", {}),
    ],
)
def test_known_and_unknown_addresses_get_the_same_answer_and_time(client, url, fields):
    make_user(KNOWN, verified=False)
    answers = [
        _answer(post_form(client, url, {"email": e, **fields}, follow_redirects=True))
        for e in (KNOWN, UNKNOWN)
    ]
    assert answers[0] == answers[1]
    known, unknown = _medians(client, url, {"email": KNOWN, **fields}, {"email": UNKNOWN, **fields})
    assert _similar(known, unknown), (url, known, unknown)


@pytest.mark.parametrize("url", ["/reset", "/verify-email"])
def test_reset_and_new_links_do_the_same_work_for_unknown_addresses(client, run_jobs, outbox, url):
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

    answers = {
        post_form(client, "/signup", {**form, "email": e}).headers["Location"]
        for e in (KNOWN, "first@example.org")
    }
    assert answers == {"/signup/check-email"}
    times = [
        (
            _timed(client, "/signup", {**form, "email": KNOWN}),
            _timed(client, "/signup", {**form, "email": f"new{n}@example.org"}),
        )
        for n in range(5)
    ]
    taken, fresh = (statistics.median(t[i] for t in times) for i in (0, 1))
    assert _similar(taken, fresh), (taken, fresh)
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 7


def test_production_hashes_with_werkzeugs_scrypt_for_known_and_unknown_addresses(monkeypatch, tmp_path):
    """The tests above use a cheaper scrypt; production's own hashing, once: a password is
    stored with Werkzeug's default scrypt, and an unknown address is checked against a hash
    made the same way."""
    from campaign import create_app
    from campaign.services import accounts
    from campaign.signing import new_private_key_pem

    for name, value in {
        "SECRET_KEY": "a-long-random-secret",
        "SIGNING_KEY": new_private_key_pem(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.db'}",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "MAIL_URL": "smtp://127.0.0.1:1",
        "DELIVERY_STORAGE": str(tmp_path / "deliveries"),
        "MEDIA_STORAGE": str(tmp_path / "media"),
        "TRUSTED_HOSTS": "groundswell.example",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(accounts, "_DUMMY_HASHES", {})
    app = create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        user = User(email=KNOWN, name="Ada")
        user.set_password("correct horse battery")
        assert user.password_hash.startswith("scrypt:32768:8:1$")
        assert user.check_password("correct horse battery")
        assert not user.check_password("wrong password")
        db.create_all()
        try:
            assert accounts.authenticate(UNKNOWN, "correct horse battery") is None
        finally:
            db.engine.dispose()
        assert [h.split("$")[0] for h in accounts._DUMMY_HASHES.values()] == ["scrypt:32768:8:1"]
