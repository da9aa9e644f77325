"""Accounts: sign up, verify by email, log in and out, remember me, reset, next redirects."""

import pytest

from campaign.extensions import db
from campaign.models import User
from tests.factories import PASSWORD, make_campaign, make_user
from tests.helpers import body_text, csrf_token, link_in, login, post_form

SIGNUP = {"name": "Ada Lovelace", "email": "Ada@Example.org", "password": PASSWORD, "confirm": PASSWORD}


def test_signup_sends_a_verification_link_that_verifies(client, run_jobs, outbox):
    response = post_form(client, "/signup", SIGNUP)
    assert response.status_code == 302 and response.headers["Location"] == "/signup/check-email"
    assert client.get("/account/").status_code == 302  # not logged in until the link is used
    user = db.session.execute(db.select(User)).scalar_one()
    assert user.email == "ada@example.org"
    assert user.password_hash != PASSWORD and user.check_password(PASSWORD)
    assert not user.is_verified
    assert outbox() == []  # mail goes only through the queue
    assert run_jobs() == 1
    [message] = outbox()
    assert message["To"] == "ada@example.org"
    assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None
    link = link_in(message, "/verify-email/")
    # A mail scanner opening the link changes nothing: it gets a page with a button.
    opened = client.get(link)
    assert opened.status_code == 200 and "Yes, confirm my address" in opened.get_data(as_text=True)
    db.session.commit()
    assert not db.session.get(User, user.id).is_verified
    page = post_form(client, link, {}, follow_redirects=True)
    assert "is confirmed" in page.get_data(as_text=True)
    assert client.get("/account/").status_code == 200  # the link logged her in
    db.session.refresh(user)
    assert user.is_verified
    # A second click is not an error.
    assert post_form(client, link, {}).status_code == 302
    assert "already confirmed" in client.get(link).get_data(as_text=True)


def test_verification_job_run_twice_sends_once(app, outbox):
    from campaign.jobs.accounts import send_verification_email

    user = make_user(verified=False)
    assert send_verification_email(user.id, "req-1") is True
    assert send_verification_email(user.id, "req-1") is False
    assert len(outbox()) == 1


def test_signup_errors_keep_what_was_typed_and_store_nothing(client):
    response = post_form(
        client, "/signup", {**SIGNUP, "email": "not-an-address", "confirm": "different password"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400  # sent back with its mistakes
    assert "Enter an email address like name@example.org." in html
    assert "The two passwords differ." in html
    assert 'value="Ada Lovelace"' in html and 'value="not-an-address"' in html
    assert db.session.query(User).count() == 0


def test_signup_with_a_taken_email_looks_the_same_and_tells_the_owner(client, run_jobs, outbox):
    owner = make_user("ada@example.org", name="Ada Owner")
    taken = post_form(client, "/signup", SIGNUP, follow_redirects=True)
    client.delete_cookie("session")
    fresh = post_form(client, "/signup", {**SIGNUP, "email": "new@example.org"}, follow_redirects=True)
    assert taken.status_code == fresh.status_code == 200
    assert "Check your email" in taken.get_data(as_text=True)
    assert "Check your email" in fresh.get_data(as_text=True)
    assert db.session.query(User).count() == 2  # the owner and the new member, no duplicate
    run_jobs()
    to_owner = [m for m in outbox() if m["To"] == owner.email]
    assert [m["Subject"] for m in to_owner] == ["Someone tried to sign up with your address"]


def test_signup_without_csrf_token_is_refused(client):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 400
    assert "expired or came from another site" in response.get_data(as_text=True)
    assert db.session.query(User).count() == 0


def test_login_logout_and_wrong_password(client):
    make_user("ada@example.org")
    bad = post_form(client, "/login", {"email": "ada@example.org", "password": "wrong password"})
    assert "do not match an account" in bad.get_data(as_text=True)
    unknown = post_form(client, "/login", {"email": "nobody@example.org", "password": "whatever"})
    assert "do not match an account" in unknown.get_data(as_text=True)
    login(client, "ADA@example.org ")
    assert client.get("/account/").status_code == 200
    response = post_form(client, "/logout", {}, page="/account/")
    assert response.status_code == 302
    assert client.get("/account/").status_code == 302


def test_logout_ends_remembered_sessions_too(client, app):
    user = make_user("ada@example.org")
    post_form(client, "/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
    assert client.get_cookie("remember_token") is not None
    old_token = user.session_token
    post_form(client, "/logout", {}, page="/account/")
    db.session.refresh(user)
    assert user.session_token != old_token


def test_remember_me_keeps_you_logged_in_after_the_session_ends(client):
    make_user("ada@example.org")
    post_form(client, "/login", {"email": "ada@example.org", "password": PASSWORD, "remember": "y"})
    client.delete_cookie("session")
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_never_leaves_the_site(client, target):
    make_user("ada@example.org")
    token = csrf_token(client)
    response = client.post(
        f"/login?next={target}", data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_goes_back_to_the_page_asked_for(client):
    make_user("ada@example.org")
    first = client.get("/account/")
    assert first.headers["Location"].startswith("/login?next=")
    token = csrf_token(client)
    response = client.post(
        first.headers["Location"],
        data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/account/"


def test_password_reset_by_email(client, run_jobs, outbox):
    user = make_user("ada@example.org", verified=False)
    other_device = user.session_token
    response = post_form(client, "/reset", {"email": "ada@example.org"})
    assert response.status_code == 302
    run_jobs()
    [message] = outbox()
    assert "reset" in message["Subject"].lower()
    link = link_in(message, "/reset/")
    new_password = "a brand new passphrase"
    response = post_form(client, link, {"password": new_password, "confirm": new_password})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.check_password(new_password)
    assert user.session_token != other_device  # other devices are logged out
    assert user.is_verified  # the link proved the address
    # The link is single-use.
    again = client.get(link)
    assert again.status_code == 400
    assert "not valid" in again.get_data(as_text=True)


def _payload(link: str, purpose: str) -> dict:
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"groundswell.{purpose}").loads(
        link.rsplit("/", 1)[1]
    )


def test_reset_links_carry_no_part_of_the_password_hash(client, run_jobs, outbox):
    user = make_user("ada@example.org")
    post_form(client, "/reset", {"email": user.email})
    run_jobs()
    payload = _payload(link_in(outbox()[0], "/reset/"), "reset-password")
    fingerprint = payload["p"]
    hash_text = user.password_hash
    assert not any(fingerprint[i : i + 8] in hash_text for i in range(len(fingerprint) - 7))


def test_a_used_verification_link_never_logs_in_again(client, run_jobs, outbox):
    user = make_user("ada@example.org", verified=False)
    from campaign.services.accounts import request_verification

    request_verification(user.id)
    run_jobs()
    link = link_in(outbox()[0], "/verify-email/")
    post_form(client, link, {})
    assert client.get("/account/").status_code == 200  # the first use logs in
    post_form(client, "/logout", {}, page="/account/")
    assert client.get("/account/").status_code == 302
    # Used once: a fresh session posting it again is not logged in.
    response = post_form(client, link, {})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/account/").status_code == 302


def test_a_verification_link_dies_when_the_password_changes(client, run_jobs, outbox):
    user = make_user("ada@example.org", verified=False)
    from campaign.services.accounts import request_verification

    request_verification(user.id)
    run_jobs()
    link = link_in(outbox()[0], "/verify-email/")
    user.set_password("another long passphrase")
    db.session.commit()
    response = post_form(client, link, {})
    assert response.status_code == 400
    assert client.get("/account/").status_code == 302
    db.session.refresh(user)
    assert not user.is_verified


def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client, run_jobs, outbox):
    known = make_user("ada@example.org")
    a = post_form(client, "/reset", {"email": "nobody@example.org"}, follow_redirects=True)
    b = post_form(client, "/reset", {"email": known.email}, follow_redirects=True)
    assert a.status_code == b.status_code == 200
    message = "If that address has an account"
    assert message in a.get_data(as_text=True) and message in b.get_data(as_text=True)
    run_jobs()
    assert [m["To"] for m in outbox()] == [known.email]


def test_expired_verification_link_says_so_and_offers_a_new_one(app, client, run_jobs, outbox):
    user = make_user(verified=False)
    from campaign.services.accounts import request_verification

    request_verification(user.id)
    run_jobs()
    link = link_in(outbox()[0], "/verify-email/")
    app.config["EMAIL_TOKEN_MAX_AGE"] = -1
    response = client.get(link)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This link has expired" in html
    assert 'href="/verify-email"' in html
    db.session.refresh(user)
    assert not user.is_verified


def test_tampered_verification_link_is_refused(app, client, run_jobs, outbox):
    user = make_user(verified=False)
    from campaign.services.accounts import request_verification

    request_verification(user.id)
    run_jobs()
    link = link_in(outbox()[0], "/verify-email/")
    response = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert response.status_code == 400
    assert "This link is not valid" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert not user.is_verified


def test_resend_verification_from_the_profile(client, run_jobs, outbox):
    user = make_user("ada@example.org", verified=False)
    login(client, user.email)
    post_form(client, "/account/verify-again", {}, page="/account/")
    run_jobs()
    assert [m["To"] for m in outbox()] == [user.email]
    assert "Confirm your email" in outbox()[0]["Subject"]
    assert "Ada" in body_text(outbox()[0]) or "Test Member" in body_text(outbox()[0])


def test_profile_lists_my_campaigns(client):
    user = make_user("ada@example.org")
    make_campaign(organiser=user, title="Make trainers repairable")
    make_campaign(title="Somebody else's campaign")
    login(client, user.email)
    html = client.get("/account/").get_data(as_text=True)
    assert "Make trainers repairable" in html
    assert "Somebody else" not in html
