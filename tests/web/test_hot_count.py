"""count.json for visitors without a session, answered from the hot cache before Flask, with
an ETag and 304; everyone and everything else still goes through Flask."""

import pytest
from sqlalchemy import update

from campaign import hot_cache
from campaign.extensions import db
from campaign.models import Campaign
from tests.factories import make_campaign, make_user
from tests.helpers import BEFORE_FLASK_HEADERS, flask_requests, login

pytestmark = pytest.mark.app_config(HOT_CACHE_SECONDS=5)


class Clock:
    """The hot cache's clock, moved by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    hot_cache.clear()
    fake = Clock()
    monkeypatch.setattr(hot_cache, "time", fake)
    yield fake
    hot_cache.clear()


def set_count(campaign, count: int) -> None:
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(confirmed_count=count))
    db.session.commit()


def url(campaign) -> str:
    return f"/api/v1/campaigns/{campaign.slug}/count.json"


#: Headers that must be the same whether Flask or the middleware answered.
SAME = (*BEFORE_FLASK_HEADERS, "ETag")


def test_an_anonymous_poller_is_answered_from_the_cache_with_flasks_headers(app, client):
    petition = make_campaign()
    set_count(petition, 7)
    with flask_requests(app) as seen:
        first = client.get(url(petition))
        second = client.get(url(petition))
    assert seen == [1]  # the first filled the cache through Flask; the second never reached it
    assert first.get_json() == second.get_json() == {"slug": petition.slug, "count": 7, "goal": petition.goal}
    assert second.data == first.data
    assert {h: second.headers.get(h) for h in SAME} == {h: first.headers.get(h) for h in SAME}
    assert second.headers["Cache-Control"] == "public, max-age=2, stale-while-revalidate=30"
    assert second.headers["X-Frame-Options"] == "DENY" and "Set-Cookie" not in second.headers
    assert second.headers["ETag"].startswith('"') and len(second.headers["ETag"]) > 10
    head = client.head(url(petition))
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]


def test_if_none_match_gets_304_until_the_count_changes(app, client, clock):
    petition = make_campaign()
    set_count(petition, 7)
    etag = client.get(url(petition)).headers["ETag"]
    with flask_requests(app) as seen:
        same = client.get(url(petition), headers={"If-None-Match": etag})
        weak = client.get(url(petition), headers={"If-None-Match": f'"other", W/{etag}'})
        other = client.get(url(petition), headers={"If-None-Match": '"other"'})
    assert seen == []
    assert same.status_code == weak.status_code == 304 and same.data == b""
    assert same.headers["ETag"] == etag and same.headers["Cache-Control"].startswith("public")
    assert "Content-Type" not in same.headers
    assert other.status_code == 200 and other.get_json()["count"] == 7
    set_count(petition, 8)
    assert client.get(url(petition), headers={"If-None-Match": etag}).status_code == 304  # within the period
    clock.now += 5.01  # HOT_CACHE_SECONDS later
    changed = client.get(url(petition), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["count"] == 8
    assert changed.headers["ETag"] != etag
    # Flask itself answers 304 too (the first request of each period goes through it).
    clock.now += 5.01
    again = client.get(url(petition), headers={"If-None-Match": changed.headers["ETag"]})
    assert again.status_code == 304


def test_the_count_is_right_again_once_the_period_is_over(app, client, clock):
    petition = make_campaign()
    set_count(petition, 7)
    assert client.get(url(petition)).get_json()["count"] == 7
    set_count(petition, 9)
    clock.now += 4.9
    assert client.get(url(petition)).get_json()["count"] == 7  # kept at most HOT_CACHE_SECONDS
    clock.now += 0.2
    with flask_requests(app) as seen:
        assert client.get(url(petition)).get_json()["count"] == 9
        assert client.get(url(petition)).get_json()["count"] == 9
    assert seen == [1]


def test_members_and_read_your_writes_browsers_go_through_flask(app, client):
    petition = make_campaign()
    set_count(petition, 3)
    client.get(url(petition))  # cached
    make_user("ada@example.org")
    login(client, "ada@example.org")
    with flask_requests(app) as seen:
        member = client.get(url(petition))
    assert seen == [1] and member.get_json()["count"] == 3
    fresh = app.test_client()
    fresh.set_cookie("gs_fresh", "1")
    with flask_requests(app) as seen:
        assert fresh.get(url(petition)).get_json()["count"] == 3
    assert seen == [1]
    stranger = app.test_client()
    stranger.set_cookie("language", "es")  # a cookie of no consequence: still answered early
    with flask_requests(app) as seen:
        assert stranger.get(url(petition)).get_json()["count"] == 3
    assert seen == []


def test_what_is_not_a_cached_public_count_goes_through_flask(app, client):
    petition = make_campaign()
    client.get(url(petition))
    with flask_requests(app) as seen:
        missing = client.get("/api/v1/campaigns/no-such-campaign/count.json")
        again = client.get("/api/v1/campaigns/no-such-campaign/count.json")
        nul = client.get(url(petition) + "?x=%00")
        posted = client.post(url(petition))
    assert seen == [1, 1, 1, 1]
    assert missing.status_code == again.status_code == 404 and again.get_json()["error"]["status"] == 404
    assert nul.status_code == 400
    assert posted.status_code in (400, 405)


@pytest.mark.app_config(TRUSTED_HOSTS=["groundswell.example"], HOT_CACHE_SECONDS=5)
def test_a_host_the_app_does_not_trust_is_refused_by_flask(app):
    petition = make_campaign()
    client = app.test_client()
    ok = client.get(url(petition), base_url="http://groundswell.example")
    assert ok.status_code == 200
    with flask_requests(app) as seen:
        cached = client.get(url(petition), base_url="http://groundswell.example")
    assert seen == [] and cached.status_code == 200
    with flask_requests(app) as seen:
        foreign = client.get(url(petition), base_url="http://evil.example")
    assert seen and foreign.status_code == 400


@pytest.mark.app_config(HOT_CACHE_SECONDS=0)
def test_with_the_cache_off_every_request_reaches_flask(app, client):
    petition = make_campaign()
    with flask_requests(app) as seen:
        set_count(petition, 1)
        first = client.get(url(petition))
        set_count(petition, 2)
        second = client.get(url(petition), headers={"If-None-Match": first.headers["ETag"]})
    assert seen == [1, 1]
    assert first.get_json()["count"] == 1 and second.get_json()["count"] == 2
