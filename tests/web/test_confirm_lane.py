"""Confirmation links opened without a session: confirmed and answered before Flask, with the
page Flask would have sent (from a render with blanks), and the same effects."""

import re

import pytest
from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import Campaign, CampaignKind, CampaignState, CountDelta, Support
from campaign.services import supports as service
from campaign.sharing import referral_code
from campaign.supports.lane import ConfirmLane
from campaign.tokens import read_token
from tests.factories import make_campaign, make_user
from tests.helpers import BEFORE_FLASK_HEADERS, flask_requests, login

#: A name that needs escaping in HTML, and the languages' own words for a confirmation.
NAME = 'Zoë & <b>"Ana"</b>'


def lane_of(app) -> ConfirmLane:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, ConfirmLane):
        wsgi = getattr(wsgi, "wsgi_app", None) or wsgi.app
    return wsgi


@pytest.fixture
def lane(app):
    found = lane_of(app)
    found.pages.clear()  # the app is shared by the tests: start with no render kept
    return found


def pending(campaign, n: int, **values) -> Support:
    result = service.add_support(
        campaign.id, name=values.pop("name", NAME), email=f"p{n}@example.org", country="GB", **values
    )
    return db.session.get(Support, result.support_id)


def link(support) -> str:
    return f"/supports/confirm/{service.support_token('confirm-support', support)}"


def own_values_out(page: str, support, path: str) -> str:
    """The page with the supporter's own values (checked here) made the same for everyone."""
    for withdraw in set(re.findall(r"/supports/withdraw/([A-Za-z0-9_.-]+)", page)):  # none if withdrawn
        assert read_token("withdraw", withdraw, 60)["s"] == support.id
        page = page.replace(withdraw, "WITHDRAW")
    token = path.rsplit("/", 1)[1]
    return page.replace(token, "TOKEN").replace(referral_code(support.id), "CODE")


def both_ways(app, client, first, second, headers=None):
    """``first``'s link opened through the lane, ``second``'s through Flask: the two pages,
    each with its supporter's own values made the same, and the two responses."""
    links = {first: link(first), second: link(second)}
    with flask_requests(app) as seen:
        by_lane = client.get(links[first], headers=headers or {})
    assert seen == []
    browser = app.test_client()
    browser.set_cookie("gs_fresh", "1")  # a read-your-writes cookie: this visitor goes through Flask
    with flask_requests(app) as seen:
        by_flask = browser.get(links[second], headers=headers or {})
    assert seen == [1]
    assert by_lane.status_code == by_flask.status_code == 200
    pages = [
        own_values_out(response.get_data(as_text=True), support, links[support])
        for response, support in ((by_lane, first), (by_flask, second))
    ]
    return pages, by_lane, by_flask


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_lane_answers_with_flasks_page_and_headers(app, client, lane, language):
    petition = make_campaign(title='Fair <pay> & "more" at Acme')
    first, second, third = (pending(petition, n) for n in range(3))
    headers = {"Accept-Language": language}
    (by_lane, by_flask), lane_response, flask_response = both_ways(app, client, first, second, headers)
    assert by_lane == by_flask
    assert {h: lane_response.headers.get(h) for h in BEFORE_FLASK_HEADERS} == {
        h: flask_response.headers.get(h) for h in BEFORE_FLASK_HEADERS
    }
    assert "Set-Cookie" not in lane_response.headers
    thanks = "Confirmed. Thank you" if language == "en" else "Confirmado. ¡Gracias"
    assert thanks in by_lane and "Zoë &amp; &lt;b&gt;&#34;Ana&#34;&lt;/b&gt;" in lane_response.get_data(
        as_text=True
    )
    assert f'lang="{language}"' in by_lane
    # The next supporter is filled into the same render; opened again, a link says so.
    third_link = link(third)
    with flask_requests(app) as seen:
        again = client.get(third_link, headers=headers)
        repeat = client.get(link(first), headers=headers)
    assert seen == []
    assert own_values_out(again.get_data(as_text=True), third, third_link) == by_lane
    already = "Already confirmed" if language == "en" else "Ya confirmado"
    assert already in repeat.get_data(as_text=True)
    assert len(lane.pages) == 2  # confirmed now, already confirmed: one render each


def test_every_outcome_is_the_page_flask_renders(app, client, lane):
    boycott = make_campaign(CampaignKind.BOYCOTT, title="Leave Acme")
    # Withdrawn before the link was opened.
    gone = [pending(boycott, n) for n in range(2)]
    for support in gone:
        service.withdraw(support.id)
    (by_lane, by_flask), *_ = both_ways(app, client, *gone)
    assert by_lane == by_flask and "This support was withdrawn" in by_lane
    # A conditional pledge still waiting for its threshold: the count is in the page.
    waiting = [pending(boycott, n, condition_threshold=50) for n in range(2, 4)]
    (by_lane, by_flask), *_ = both_ways(app, client, *waiting)
    assert by_lane == by_flask and "waits for" in by_lane
    # A campaign not public (closed to new support after the link was sent): no share prompt.
    hidden = [pending(boycott, n) for n in range(4, 6)]
    db.session.execute(update(Campaign).where(Campaign.id == boycott.id).values(state=CampaignState.HIDDEN))
    db.session.commit()
    (by_lane, by_flask), *_ = both_ways(app, client, *hidden)
    assert by_lane == by_flask and "share-first" not in by_lane


def test_a_confirmation_by_the_lane_counts_once(app, client, lane, run_jobs):
    petition = make_campaign()
    support = pending(petition, 1, condition_threshold=None)
    assert client.get(link(support)).status_code == 200
    assert client.head(link(support)).status_code == 200  # a mail scanner: no second count
    db.session.expire_all()
    assert db.session.get(Support, support.id).confirmed_at is not None
    assert db.session.execute(select(CountDelta.delta)).scalars().all() == [1]
    run_jobs()  # the fold the confirmation asked for
    db.session.expire_all()
    assert db.session.get(Campaign, petition.id).confirmed_count == 1


def test_a_title_changed_gets_a_render_of_its_own(app, client, lane):
    petition = make_campaign(title="Old title")
    first, second = pending(petition, 1), pending(petition, 2)
    assert "Old title" in client.get(link(first)).get_data(as_text=True)
    db.session.execute(update(Campaign).where(Campaign.id == petition.id).values(title="New title"))
    db.session.commit()
    page = client.get(link(second)).get_data(as_text=True)
    assert "New title" in page and "Old title" not in page
    assert len(lane.pages) == 2


def test_bad_links_members_and_query_strings_go_through_flask(app, client, lane):
    petition = make_campaign()
    support = pending(petition, 1)
    good = link(support)
    with flask_requests(app) as seen:
        forged = client.get(good[:-3] + "xyz")
        odd = client.get("/supports/confirm/not%20a%20token")
        with_query = client.get(good + "?utm_source=mail")
    assert seen == [1, 1, 1]
    assert forged.status_code == odd.status_code == 400
    assert with_query.status_code == 200 and "Confirmed. Thank you" in with_query.get_data(as_text=True)
    assert lane.pages == {}
    make_user("ada@example.org")
    login(client, "ada@example.org")
    other = pending(petition, 2)
    with flask_requests(app) as seen:
        member = client.get(link(other))
    assert seen == [1] and "My account" in member.get_data(as_text=True)
    assert lane.pages == {}


def test_a_page_that_reads_more_of_the_supporter_is_rendered_for_each(app, client, lane, monkeypatch, caplog):
    """A template that came to show something of the supporter that is not a blank (here the
    address) would show the first supporter's to the next ones: the lane refuses that render
    and renders each supporter's page alone."""
    from campaign.supports import lane as lane_module

    plain = lane_module.render_confirmed

    def with_address(support, *args):
        return plain(support, *args) + f"<!-- {support.email_canonical} -->"

    monkeypatch.setattr(lane_module, "render_confirmed", with_address)
    petition = make_campaign()
    first, second = pending(petition, 1), pending(petition, 2, name="")
    with caplog.at_level("WARNING"), flask_requests(app) as seen:
        pages = [client.get(link(support)).get_data(as_text=True) for support in (first, second)]
    assert seen == []
    assert "p1@example.org" in pages[0] and "p2@example.org" in pages[1]
    assert "p1@example.org" not in pages[1]
    assert "cannot be rendered with blanks" in caplog.text
    assert list(lane.pages.values()) == [None]


def test_an_empty_name_is_rendered_alone(app, client, lane):
    petition = make_campaign()
    first, second = pending(petition, 1), pending(petition, 2)
    db.session.execute(update(Support).where(Support.id == second.id).values(name=""))
    db.session.commit()
    assert "Thank you, Zoë" in client.get(link(first)).get_data(as_text=True)
    page = client.get(link(second)).get_data(as_text=True)
    assert "Confirmed. Thank you, !" in page and NAME not in page
    assert len(lane.pages) == 1


def test_the_renders_kept_are_bounded(app, client, lane, monkeypatch):
    from campaign.supports import lane as lane_module

    monkeypatch.setattr(lane_module, "PAGES_KEPT", 2)
    petitions = [make_campaign(title=f"Petition {n}") for n in range(3)]
    for n, petition in enumerate(petitions):
        page = client.get(link(pending(petition, n))).get_data(as_text=True)
        assert f"Petition {n}" in page and "Confirmed. Thank you" in page
        assert len(lane.pages) <= 2
    assert [key[5] for key in lane.pages] == ["Petition 1", "Petition 2"]  # the oldest half went
