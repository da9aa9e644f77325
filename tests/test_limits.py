"""Abuse limits: too many supports or sign-ups from one address get a clear 429, store nothing."""

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Support, User
from tests.factories import make_campaign
from tests.helpers import post_form

pytestmark = pytest.mark.app_config(RATELIMIT_ENABLED=True)


def test_second_support_from_one_ip_within_a_minute_is_held(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    data = {"name": "Ada", "email": "ada@example.org", "country": "GB"}
    invalid = post_form(client, f"{page}/support", {**data, "email": "nope"}, page=page)
    assert invalid.status_code == 400  # a form with mistakes does not use up the allowance
    assert post_form(client, f"{page}/support", data, page=page).status_code == 303
    second = post_form(client, f"{page}/support", {**data, "email": "bob@example.org"}, page=page)
    assert second.status_code == 429
    assert "Slow down a little" in second.get_data(as_text=True)
    assert "Nothing was saved" in second.get_data(as_text=True)
    count = db.session.execute(select(func.count()).select_from(Support)).scalar_one()
    assert count == 1
    # Another campaign is limited separately.
    other = make_campaign()
    assert post_form(client, f"/petitions/{other.slug}/support",
                     {**data, "email": "bob@example.org"},
                     page=f"/petitions/{other.slug}").status_code == 303
    # And a different address is not held back by this one.
    third = post_form(client, f"{page}/support", {**data, "email": "cy@example.org"}, page=page,
                      environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert third.status_code == 303


def test_sign_up_is_rate_limited(client, app):
    app.config["RATELIMIT_SIGNUP"] = "2 per minute"
    for n in range(2):
        post_form(client, "/signup", {"name": "x", "email": f"u{n}@example.org",
                                      "password": "long enough pw", "confirm": "long enough pw"})
        post_form(client, "/logout", {}, page="/account/")
    response = post_form(client, "/signup", {"name": "x", "email": "u9@example.org",
                                             "password": "long enough pw",
                                             "confirm": "long enough pw"})
    assert response.status_code == 429
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 2


def test_login_attempts_are_limited_per_account_across_addresses(client, app):
    from tests.factories import make_user

    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "3 per 15 minutes"
    user = make_user("ada@example.org")
    for n in range(3):
        response = post_form(client, "/login", {"email": user.email, "password": "wrong guess"},
                             environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert response.status_code == 200
    blocked = post_form(client, "/login", {"email": user.email, "password": "wrong guess"},
                        environ_base={"REMOTE_ADDR": "192.0.2.77"})
    assert blocked.status_code == 429
