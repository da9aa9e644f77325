"""What a surge reads most, served from a per-process cache of about a second: count.json and
the campaign page as every visitor who is not logged in sees it (with no CSRF token of
theirs: the form fetches one). Members and anyone with a message waiting get their own page."""

import json
import re
import threading
import time

import pytest
from sqlalchemy import func, select, update

from campaign import hot_cache, page_queries
from campaign.extensions import db
from campaign.models import Campaign, Support
from campaign.queue import redis_connection
from campaign.supports.forms import COUNTRY_CHOICES, SupportForm
from tests.factories import make_campaign, make_user
from tests.helpers import login, post_form

pytestmark = pytest.mark.app_config(HOT_CACHE_SECONDS=60)

SIGN = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "country": "GB",
    "is_public": "y",
    "consents_to_updates": "y",
}
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')


@pytest.fixture(autouse=True)
def fresh_cache():
    hot_cache.clear()
    yield
    hot_cache.clear()


def set_count(campaign, count: int) -> None:
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(confirmed_count=count))
    db.session.commit()


def stored(campaign) -> int:
    db.session.commit()
    return db.session.execute(
        select(func.count()).select_from(Support).filter_by(campaign_id=campaign.id)
    ).scalar_one()


def test_count_json_is_read_once_per_cache_period(client):
    petition = make_campaign()
    url = f"/api/v1/campaigns/{petition.slug}/count.json"
    set_count(petition, 7)
    first = client.get(url)
    assert first.get_json() == {"slug": petition.slug, "count": 7, "goal": petition.goal}
    assert first.mimetype == "application/json" and "max-age=2" in first.headers["Cache-Control"]
    set_count(petition, 8)
    assert client.get(url).get_json()["count"] == 7  # the same second, as far as it knows
    hot_cache.clear()  # the period is over
    assert client.get(url).get_json()["count"] == 8
    missing = client.get("/api/v1/campaigns/no-such-campaign/count.json")
    assert missing.status_code == 404 and missing.get_json()["error"]["status"] == 404


@pytest.mark.app_config(HOT_CACHE_SECONDS=0)
def test_no_cache_when_turned_off(client):
    petition = make_campaign()
    url = f"/api/v1/campaigns/{petition.slug}/count.json"
    set_count(petition, 1)
    assert client.get(url).get_json()["count"] == 1
    set_count(petition, 2)
    assert client.get(url).get_json()["count"] == 2


def test_the_public_page_is_shared_and_carries_no_token(client, app):
    petition = make_campaign(title="Pay farmers a living income")
    page = f"/petitions/{petition.slug}"
    response = client.get(page)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Pay farmers a living income" in html
    assert TOKEN.findall(html) == [""]  # the support form's token is left to csrf.js
    assert 'data-token-url="/supports/form-token"' in html and "/static/js/csrf.js" in html
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=2" in cache and "no-store" not in cache
    assert "Set-Cookie" not in response.headers  # no session made for a reader
    # Served from the cache: a change shows once the period is over.
    db.session.execute(
        update(Campaign).where(Campaign.id == petition.id).values(title="Pay farmers a fair price")
    )
    db.session.commit()
    assert "Pay farmers a living income" in client.get(page).get_data(as_text=True)
    hot_cache.clear()
    assert "Pay farmers a fair price" in client.get(page).get_data(as_text=True)
    assert app.test_client().get("/static/js/csrf.js").status_code == 200


def test_a_visitor_fetches_a_token_and_signs_from_the_public_page(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    assert TOKEN.findall(client.get(page).get_data(as_text=True)) == [""]
    token = client.get("/supports/form-token")
    assert token.headers["Cache-Control"].startswith("no-store")
    response = client.post(f"{page}/support", data={**SIGN, "csrf_token": token.get_json()["csrf_token"]})
    assert response.status_code == 303 and stored(petition) == 1


def test_without_script_the_form_comes_back_filled_in_with_a_token(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    client.get(page)
    refused = client.post(f"{page}/support", data={**SIGN, "csrf_token": ""})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and stored(petition) == 0
    assert "expired or came from another site. Nothing was saved" in html
    assert 'value="Ada Lovelace"' in html and '<option selected value="GB">' in html
    assert refused.headers["Cache-Control"].startswith("no-store")
    token = TOKEN.search(html).group(1)
    assert token
    again = client.post(f"{page}/support", data={**SIGN, "csrf_token": token})
    assert again.status_code == 303 and stored(petition) == 1


def test_a_forged_token_stores_nothing(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    client.get("/supports/form-token")
    response = client.post(f"{page}/support", data={**SIGN, "csrf_token": "forged"})
    assert response.status_code == 400 and stored(petition) == 0


def test_members_and_flashed_visitors_get_their_own_page(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    client.get(page)  # the shared page is now cached
    make_user("ada@example.org", name="Ada Lovelace")
    login(client, "ada@example.org")
    mine = client.get(page)
    html = mine.get_data(as_text=True)
    assert mine.headers["Cache-Control"].startswith("no-store")
    assert TOKEN.search(html).group(1) and "data-token-url" not in html
    assert 'value="Ada Lovelace"' in html  # filled in for the member
    visitor = client.application.test_client()
    with visitor.session_transaction() as sess:
        sess["_flashes"] = [("info", "A message for this visitor only")]
    own = visitor.get(page).get_data(as_text=True)
    assert "A message for this visitor only" in own and TOKEN.search(own).group(1)


def test_a_share_link_is_rendered_for_its_visitor(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    client.get(page)
    response = client.get(f"{page}?ref=whatsapp")
    assert response.headers["Cache-Control"].startswith("no-store")
    with client.session_transaction() as sess:
        assert sess[f"ref:{petition.slug}"] == "whatsapp"


def test_the_country_list_renders_as_wtforms_would(app):
    from wtforms.widgets import Select

    with app.test_request_context():
        for chosen in (None, "", "GB", "CI", "ZZ"):
            form = SupportForm(meta={"csrf": False}, data={"country": chosen})
            assert str(form.country()) == str(Select()(form.country)), chosen
        assert str(SupportForm(meta={"csrf": False}).country()).count("<option") == len(COUNTRY_CHOICES)


def test_a_country_off_the_list_is_refused(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    response = post_form(client, f"{page}/support", {**SIGN, "country": "XX"}, page="/login")
    assert response.status_code == 400 and stored(petition) == 0
    assert "Choose your country from the list." in response.get_data(as_text=True)


def test_a_new_block_rule_applies_once_the_cache_period_is_over(client):
    from campaign.models import Role
    from campaign.services.abuse import add_rule

    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    first = post_form(client, f"{page}/support", {**SIGN, "email": "one@spam.example"}, page="/login")
    assert first.status_code == 303  # no rules at all: none is looked for
    moderator = make_user("mod@example.org", role=Role.MODERATOR)
    add_rule("domain", "block", "spam.example", None, moderator.id)
    post_form(client, f"{page}/support", {**SIGN, "email": "early@spam.example"}, page="/login")
    hot_cache.clear()  # the period is over
    post_form(client, f"{page}/support", {**SIGN, "email": "two@spam.example"}, page="/login")
    db.session.commit()
    held = dict(
        db.session.execute(select(Support.email, Support.suspect).filter_by(campaign_id=petition.id)).all()
    )
    assert held["one@spam.example"] is None
    assert held["early@spam.example"] is None  # within the second the process knew no rules
    assert str(held["two@spam.example"]) == "blocked_domain"


def test_while_one_thread_computes_an_expired_value_the_others_get_the_one_before_it():
    cache = hot_cache.HotCache()
    assert cache.get_or_set("page", lambda: "old", 0.01) == "old"
    time.sleep(0.02)  # expired
    computing, release = threading.Event(), threading.Event()
    got = []

    def slow():
        computing.set()
        release.wait(5)
        return "new"

    first = threading.Thread(target=lambda: got.append(cache.get_or_set("page", slow, 60)))
    first.start()
    assert computing.wait(5)
    # Another request meanwhile: the value before, not a second render.
    assert cache.get_or_set("page", lambda: pytest.fail("computed twice at once"), 60) == "old"
    release.set()
    first.join(5)
    assert got == ["new"]
    assert cache.get_or_set("page", lambda: "newer", 60) == "new"  # kept for its 60 s

    # One that expired longer ago than its period is not answered with while computed.
    cache.get_or_set("rules", lambda: "none", 0.01)
    time.sleep(0.03)  # expired 0.02 s ago, more than its 0.01 s
    computing.clear()
    release.clear()
    first = threading.Thread(target=lambda: got.append(cache.get_or_set("rules", slow, 0.01)))
    first.start()
    assert computing.wait(5)
    assert cache.get_or_set("rules", lambda: "some", 0.01) == "some"
    release.set()
    first.join(5)

    # A computation that fails leaves the key free: the next request computes it.
    def failing():
        raise RuntimeError("the database went away")

    time.sleep(0.02)
    cache.get_or_set("chart", lambda: "old", 0.01)
    time.sleep(0.02)
    with pytest.raises(RuntimeError):
        cache.get_or_set("chart", failing, 60)
    assert cache.get_or_set("chart", lambda: "new", 60) == "new"


def test_an_expired_momentum_figure_is_computed_by_one_request_while_the_others_answer_with_the_one_before(
    app,
):
    petition = make_campaign()
    calls = []

    @page_queries.cached_per_campaign
    def figure(campaign):
        calls.append(campaign.id)
        return {"n": len(calls)}

    redis = redis_connection()
    key = f"groundswell:page:figure:{petition.id}"
    assert figure(petition) == {"n": 1}
    assert figure(petition) == {"n": 1} and len(calls) == 1  # fresh: read from Redis
    assert page_queries.MOMENTUM_TTL < redis.ttl(key) <= page_queries.MOMENTUM_TTL + page_queries.STALE_TTL

    def age() -> None:  # MOMENTUM_TTL goes by
        entry = json.loads(redis.get(key))
        entry["fresh_until"] = time.time() - 1
        redis.set(key, json.dumps(entry), keepttl=True)

    age()
    redis.set(f"{key}:refreshing", 1, ex=30)  # another request is computing it
    assert figure(petition) == {"n": 1} and len(calls) == 1
    redis.delete(f"{key}:refreshing")  # it finished elsewhere, or its lock lapsed
    assert figure(petition) == {"n": 2}  # this request took the lock and computed it
    assert not redis.exists(f"{key}:refreshing")  # and let it go
    assert figure(petition) == {"n": 2}

    # A value kept in the format before this one is computed again, not misread.
    redis.set(key, json.dumps({"n": 0}))
    assert figure(petition) == {"n": 3}
    # Gone (past STALE_TTL, or Redis emptied): computed.
    redis.delete(key)
    assert figure(petition) == {"n": 4}
