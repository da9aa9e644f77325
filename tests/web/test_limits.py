"""Abuse limits: sign-ups, logins and resets from one address or for one account get a clear
429 and store nothing (before any password is hashed); a support over its limit is held."""

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Support, Suspect, User
from tests.factories import make_campaign
from tests.helpers import post_form

pytestmark = pytest.mark.app_config(RATELIMIT_ENABLED=True)


def test_second_support_from_one_ip_within_a_minute_is_held_not_refused(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    data = {"name": "Ada", "email": "ada@example.org", "country": "GB"}
    invalid = post_form(client, f"{page}/support", {**data, "email": "nope"}, page=page)
    assert invalid.status_code == 400  # a form with mistakes does not use up the allowance
    assert post_form(client, f"{page}/support", data, page=page).status_code == 303
    second = post_form(client, f"{page}/support", {**data, "email": "bob@example.org"}, page=page)
    # No 429 a bot could learn from: the support is stored, held as suspect, never counted.
    assert second.status_code == 303
    held = dict(db.session.execute(select(Support.email, Support.suspect)).all())
    assert held == {"ada@example.org": None, "bob@example.org": Suspect.RATE_LIMIT}
    # Another campaign is limited separately, and another address is not held by this one.
    other = make_campaign()
    post_form(
        client,
        f"/petitions/{other.slug}/support",
        {**data, "email": "bob@example.org"},
        page=f"/petitions/{other.slug}",
    )
    post_form(
        client,
        f"{page}/support",
        {**data, "email": "cy@example.org"},
        page=page,
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    fresh = db.session.execute(select(Support.suspect).where(Support.id > 2)).scalars().all()
    assert fresh == [None, None]


def test_sign_up_is_rate_limited(client, app):
    app.config["RATELIMIT_SIGNUP"] = "2 per minute"
    for n in range(2):
        post_form(
            client,
            "/signup",
            {
                "name": "x",
                "email": f"u{n}@example.org",
                "password": "long enough pw",
                "confirm": "long enough pw",
            },
        )
        post_form(client, "/logout", {}, page="/account/")
    response = post_form(
        client,
        "/signup",
        {"name": "x", "email": "u9@example.org", "password": "long enough pw", "confirm": "long enough pw"},
    )
    assert response.status_code == 429
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 2


def test_login_attempts_are_limited_per_account_across_addresses(client, app, run_jobs, outbox):
    from tests.factories import PASSWORD, make_user
    from tests.helpers import link_in

    app.config["RATELIMIT_LOGIN_ACCOUNT_ANYWHERE"] = "3 per 15 minutes"
    user = make_user("ada@example.org")
    for n in range(3):
        response = post_form(
            client,
            "/login",
            {"email": user.email, "password": "wrong guess"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
        )
        assert response.status_code == 400  # sent back: wrong password
    blocked = post_form(
        client,
        "/login",
        {"email": user.email, "password": "wrong guess"},
        environ_base={"REMOTE_ADDR": "192.0.2.77"},
    )
    assert blocked.status_code == 429
    # The owner still gets in: the page offers a reset link by email, which logs them in.
    assert 'href="/reset"' in blocked.get_data(as_text=True)
    post_form(client, "/reset", {"email": user.email})
    run_jobs()
    link = link_in(outbox()[0], "/reset/")
    post_form(client, link, {"password": PASSWORD + " new", "confirm": PASSWORD + " new"})
    assert client.get("/account/").status_code == 200


def test_wrong_passwords_from_one_place_do_not_lock_the_owner_out(client, app):
    from tests.factories import PASSWORD, make_user

    app.config["RATELIMIT_LOGIN_ACCOUNT"] = "3 per 15 minutes"
    moderator = make_user("mod@example.org")
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    answers = [
        post_form(
            client, "/login", {"email": moderator.email, "password": "guess"}, environ_base=attacker
        ).status_code
        for _ in range(4)
    ]
    assert answers == [400, 400, 400, 429]  # sent back three times, then limited
    owner = app.test_client()
    response = post_form(
        owner,
        "/login",
        {"email": moderator.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.2"},
    )
    assert response.status_code == 302 and owner.get("/account/").status_code == 200


def test_sign_up_is_limited_per_address_across_ips(client, app):
    app.config["RATELIMIT_SIGNUP_ACCOUNT"] = "2 per hour"
    form = {
        "name": "x",
        "email": "ada@example.org",
        "password": "long enough pw",
        "confirm": "long enough pw",
    }
    mistake = post_form(client, "/signup", {**form, "confirm": "something else"})
    assert mistake.status_code == 400  # sent back to fix: uses none of the allowance
    for n in range(2):
        response = post_form(client, "/signup", form, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
        assert response.status_code == 302
    blocked = post_form(
        client, "/signup", {**form, "email": " ADA@example.org"}, environ_base={"REMOTE_ADDR": "192.0.2.99"}
    )
    assert blocked.status_code == 429
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1


@pytest.mark.parametrize("url", ["/reset", "/verify-email"])
def test_reset_and_new_links_are_limited_per_address_known_or_not(client, app, url):
    app.config["RATELIMIT_RESET_ACCOUNT"] = "2 per hour"
    from tests.factories import make_user

    known = make_user("ada@example.org", verified=False)
    for email in (known.email, "nobody@example.org"):
        for n in range(2):
            ok = post_form(client, url, {"email": email}, environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})
            assert ok.status_code == 302
        blocked = post_form(client, url, {"email": email}, environ_base={"REMOTE_ADDR": "192.0.2.50"})
        assert blocked.status_code == 429, email  # the same for both: it tells nothing


def test_a_limited_login_is_refused_before_any_password_is_hashed(client, app, monkeypatch):
    from campaign.models import user as user_model
    from campaign.services import accounts
    from tests.factories import make_user

    app.config["RATELIMIT_LOGIN"] = "2 per minute"
    user = make_user("ada@example.org")
    hashed = []
    real = user_model.check_password_hash

    def counting(*args):
        hashed.append(1)
        return real(*args)

    monkeypatch.setattr(user_model, "check_password_hash", counting)
    # Both places that hash: a known address's password, an unknown address's dummy hash.
    monkeypatch.setattr(accounts, "check_password_hash", counting)
    for email in (user.email, "nobody@example.org"):
        post_form(client, "/login", {"email": email, "password": "wrong guess"})
    assert len(hashed) == 2  # a known and an unknown address cost one hash each
    for _ in range(5):
        response = post_form(client, "/login", {"email": user.email, "password": "guess"})
        assert response.status_code == 429
    assert len(hashed) == 2


def test_the_campaign_creation_limit_counts_accepted_forms_only(client, app):
    from tests.factories import make_brand, make_user
    from tests.helpers import login

    app.config["RATELIMIT_CAMPAIGN_CREATE"] = "2 per hour"
    login(client, make_user().email)
    brand = make_brand()
    form = {
        "title": "Fair pay for the people who pick our coffee",
        "summary": "Pay farmers.",
        "body": "The story.",
        "goal": "100",
        "target_brand_id": str(brand.id),
        "demand": "Pay a living income",
    }
    for _ in range(3):  # mistakes sent back to fix
        assert post_form(client, "/petitions/new", {**form, "title": ""}).status_code == 400
    answers = [post_form(client, "/petitions/new", form).status_code for _ in range(3)]
    assert answers == [302, 302, 429]


def test_limits_are_checked_in_their_views_only(app, client):
    """Flask-Limiter's before-request hook is off (every limit here decorates its view), and
    a decorated view is still limited; with a default limit set, the hook stays and limits a
    view that has none of its own."""
    from flask import Flask
    from flask_limiter import Limiter

    from campaign.extensions import check_limits_in_views_only, limiter

    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])

    def build(**options) -> tuple[Flask, Limiter]:
        plain = Flask("limits")
        plain.config["RATELIMIT_STORAGE_URI"] = "memory://"
        own = Limiter(key_func=lambda: "one visitor", **options)
        own.init_app(plain)

        # Two functions of their own: Flask-Limiter files a decorated view's limits by name.
        def limited():
            return "ok"

        def open_page():
            return "ok"

        plain.route("/limited")(own.limit("1 per minute")(limited))
        plain.add_url_rule("/open", "open", open_page)
        check_limits_in_views_only(plain, own)
        return plain, own

    plain, own = build()
    assert own._check_request_limit not in plain.before_request_funcs.get(None, [])
    visitor = plain.test_client()
    assert [visitor.get("/limited").status_code for _ in range(2)] == [200, 429]
    assert [visitor.get("/open").status_code for _ in range(3)] == [200, 200, 200]

    plain, own = build(default_limits=["1 per minute"])
    assert own._check_request_limit in plain.before_request_funcs[None]
    visitor = plain.test_client()
    assert [visitor.get("/open").status_code for _ in range(2)] == [200, 429]
