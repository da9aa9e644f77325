"""The sign form of a visitor who is not logged in: taken before Flask, with the answer and
the effects of the view; everything else falls through to the view, with its body."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from campaign.extensions import db
from campaign.models import CampaignKind, CampaignState, ConfirmationOwed, Support
from campaign.sharing import referral_code
from campaign.supports.sign_lane import SignLane
from tests.factories import make_campaign, make_user
from tests.helpers import BEFORE_FLASK_HEADERS, csrf_token, flask_requests, login

SIGN = {"name": "Zoë Ortiz", "country": "GB", "is_public": "y", "consents_to_updates": "y"}


def lane_of(app) -> SignLane:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, SignLane):
        wsgi = getattr(wsgi, "wsgi_app", None) or wsgi.app
    return wsgi


def sign(client, campaign, email: str, token: str | None = None, **kwargs):
    page = f"/{campaign.blueprint}/{campaign.slug}"
    data = {**SIGN, "email": email, "csrf_token": token or csrf_token(client), **kwargs.pop("data", {})}
    return client.post(f"{page}/support", data=data, **kwargs)


def post_body(client, campaign, body: str, **kwargs):
    """The sign form's body sent as it is written, byte for byte."""
    page = f"/{campaign.blueprint}/{campaign.slug}"
    return client.post(
        f"{page}/support", data=body, content_type="application/x-www-form-urlencoded", **kwargs
    )


def answered(app, send) -> tuple[list, object]:
    """The requests Flask's machinery saw while ``send()`` ran, and its response."""
    with flask_requests(app) as seen:
        response = send()
    return seen, response


def support_of(email: str) -> Support | None:
    db.session.expire_all()
    return db.session.execute(select(Support).filter_by(email=email)).scalar_one_or_none()


def last_support(client) -> dict:
    with client.session_transaction() as session:
        return dict(session["last_support"])


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_visitor_signs_before_flask_with_the_views_answer(app, client, monkeypatch, language):
    petition = make_campaign(title="Fair pay at Acme")
    headers = {"Accept-Language": language}
    token = csrf_token(client)
    with flask_requests(app) as seen:
        by_lane = sign(client, petition, "zoe@example.org", token, headers=headers)
    assert seen == []  # answered before Flask's request machinery
    by_lane_session = last_support(client)
    # The same form, another address, through the view.
    monkeypatch.setattr(lane_of(app), "_route", lambda environ: None)
    with flask_requests(app) as seen:
        by_flask = sign(client, petition, "ana@example.org", token, headers=headers)
    assert seen == [1]
    by_flask_session = last_support(client)
    assert by_lane.status_code == by_flask.status_code == 303
    assert by_lane.location == by_flask.location == f"/supports/thanks/{petition.slug}"
    assert by_lane.get_data() == by_flask.get_data()
    same = [h for h in BEFORE_FLASK_HEADERS if h not in ("Set-Cookie", "Content-Length")]
    assert {h: by_lane.headers.get(h) for h in same} == {h: by_flask.headers.get(h) for h in same}
    assert "no-store" in by_lane.headers["Cache-Control"] and "private" in by_lane.headers["Cache-Control"]
    # The session keeps the last support, as the view keeps it.
    lane_support, flask_support = support_of("zoe@example.org"), support_of("ana@example.org")
    assert by_lane_session == {"id": lane_support.id, "outcome": "pending", "email": "zoe@example.org"}
    assert by_flask_session == {"id": flask_support.id, "outcome": "pending", "email": "ana@example.org"}
    # The same row: the language the supporter read, the words they agreed to in it.
    for column in ("locale", "consent_text", "country", "is_public", "consents_to_updates", "name"):
        assert getattr(lane_support, column) == getattr(flask_support, column), column
    assert lane_support.locale == language and db.session.get(ConfirmationOwed, lane_support.id)
    assert ("Apoyo" in lane_support.consent_text) == (language == "es")
    # The thank-you page reads what the lane kept.
    thanks = client.get(by_lane.location, headers=headers)
    assert thanks.status_code == 200


def test_a_share_link_that_brought_the_visitor_is_credited(app, client):
    petition = make_campaign()
    sharer = sign(client, petition, "sharer@example.org")
    assert sharer.status_code == 303
    code = referral_code(support_of("sharer@example.org").id)
    visitor = app.test_client()
    visitor.get(f"/{petition.blueprint}/{petition.slug}?ref=whatsapp-{code}")
    with flask_requests(app) as seen:
        assert sign(visitor, petition, "friend@example.org").status_code == 303
    assert seen == [1]  # the token asked of Flask; the form itself before it
    friend = support_of("friend@example.org")
    assert (friend.referral, friend.referred_by_id) == ("whatsapp", support_of("sharer@example.org").id)


def test_signing_again_answers_the_same_and_stores_nothing_new(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    first = sign(client, petition, "zoe@example.org", token)
    again = sign(client, petition, "ZOE@example.org", token)
    assert first.status_code == again.status_code == 303
    assert db.session.query(Support).count() == 1
    assert support_of("zoe@example.org").confirmation_sends == 2  # the link again, once more
    assert last_support(client)["outcome"] == "pending"


def test_a_stale_or_forged_token_is_the_views_answer(app, client):
    petition = make_campaign()
    csrf_token(client)  # the session has a token of its own
    forged = csrf_token(app.test_client())  # another session's
    with flask_requests(app) as seen:
        response = sign(client, petition, "zoe@example.org", forged)
    assert seen == [1] and response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form had expired or came from another site" in page
    assert 'value="Zoë Ortiz"' in page  # Flask read the body the lane had read first
    assert support_of("zoe@example.org") is None


def test_a_form_with_a_mistake_is_sent_back_by_the_view(app, client):
    petition = make_campaign()
    with flask_requests(app) as seen:
        response = sign(client, petition, "not-an-address")
    assert seen == [1, 1] and response.status_code == 400  # the token, then the form
    page = response.get_data(as_text=True)
    assert 'value="Zoë Ortiz"' in page and 'value="not-an-address"' in page
    assert db.session.query(Support).count() == 0


@pytest.mark.parametrize(
    ("kind", "state", "status"),
    [
        (CampaignKind.PETITION, CampaignState.CLOSED, 302),  # told so on the campaign's page
        (CampaignKind.PETITION, CampaignState.HIDDEN, 404),
        (CampaignKind.BUYCOTT, CampaignState.OPEN, 400),  # the form asks which brands: none chosen
    ],
)
def test_a_campaign_the_lane_does_not_take_is_the_views(app, client, kind, state, status):
    campaign = make_campaign(kind, state=state)
    token = csrf_token(client)
    with flask_requests(app) as seen:
        response = sign(client, campaign, "zoe@example.org", token)
    assert seen == [1] and response.status_code == status
    assert (support_of("zoe@example.org") is not None) == (status == 303)


def test_a_member_signs_through_the_view_and_counts_at_once(app, client):
    petition = make_campaign()
    make_user("member@example.org", name="Mo Member")
    login(client, "member@example.org")
    with flask_requests(app) as seen:
        response = sign(client, petition, "member@example.org", data={"name": "Mo Member"})
    assert response.status_code == 303 and len(seen) == 2  # the token, then the form
    support = support_of("member@example.org")
    assert support.user_id is not None and support.confirmed_at is not None


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"data": {"comment": "nul\x00byte"}}, 400),  # the app refuses NUL before any query
        ({"query_string": {"x": "1"}}, 303),
        ({"headers": {"Cookie": "remember_token=forged"}}, 303),
        ({"base_url": "https://localhost", "headers": {"Referer": "https://elsewhere.example/"}}, 400),
    ],
)
def test_anything_unusual_falls_through_to_flask(app, client, change, status):
    petition = make_campaign()
    token = csrf_token(client)
    if "Cookie" in change.get("headers", {}):
        client.set_cookie("remember_token", "forged")
        change = {}
    with flask_requests(app) as seen:
        response = sign(client, petition, "zoe@example.org", token, **change)
    assert seen == [1] and response.status_code == status
    assert (support_of("zoe@example.org") is not None) == (status == 303)


@pytest.mark.app_config(TRUSTED_HOSTS=["localhost"])
def test_a_host_the_app_does_not_trust_is_refused_by_flask(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    seen, response = answered(
        app, lambda: sign(client, petition, "zoe@example.org", token, headers={"Host": "evil.example"})
    )
    assert seen == [1] and response.status_code == 400
    assert support_of("zoe@example.org") is None


def test_over_https_a_referer_of_this_host_is_taken_before_flask(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    with flask_requests(app) as seen:
        response = sign(
            client,
            petition,
            "zoe@example.org",
            token,
            base_url="https://localhost",
            headers={"Referer": f"https://localhost/petitions/{petition.slug}"},
        )
    assert seen == [] and response.status_code == 303
    assert support_of("zoe@example.org") is not None


def test_a_cut_off_body_is_flasks_to_refuse(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    body = f"csrf_token={token}&name=Zo%C3%AB&email=zoe%40example.org&country=GB"
    # The client said more than it sent (it stopped sending): werkzeug refuses it.
    cut_off = {"CONTENT_LENGTH": str(len(body) + 40)}
    seen, response = answered(app, lambda: post_body(client, petition, body, environ_overrides=cut_off))
    assert seen == [1] and response.status_code == 400
    assert support_of("zoe@example.org") is None


def test_a_percent_escape_that_is_not_utf8_is_read_by_flask(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    body = f"csrf_token={token}&name=Jos%E9&email=jose%40example.org&country=GB"
    seen, response = answered(app, lambda: post_body(client, petition, body))
    assert seen == [1] and response.status_code == 303
    assert support_of("jose@example.org").name == "Jos%E9"  # as werkzeug keeps it


def test_the_database_lost_while_writing_is_flasks_503_and_not_signed_again(app, client):
    petition = make_campaign()
    token = csrf_token(client)
    writes = []

    def lost(conn, cursor, statement, *args):  # the fault injected where the server would drop
        if "INSERT INTO supports" in statement:
            writes.append(statement)
            raise OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))

    event.listen(db.engine, "before_cursor_execute", lost)
    try:
        with flask_requests(app) as seen:
            response = sign(client, petition, "zoe@example.org", token)
    finally:
        event.remove(db.engine, "before_cursor_execute", lost)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Back in a moment" in response.get_data(as_text=True)
    assert seen == [] and len(writes) == 1  # answered by the app's handler, not signed again
    assert support_of("zoe@example.org") is None


@pytest.mark.app_config(HOT_CACHE_SECONDS=60.0)
def test_the_benchs_parts_time_each_part_of_a_lane_signature_and_put_it_back(app, client):
    """``python -m bench.request_cpu --parts`` times what it names: every part is found where
    the lane looks it up (a part timed nowhere would read 0 ms), and left as it was."""
    from bench.request_cpu import SIGN_PARTS, _timed_parts, part_owner

    petition = make_campaign()
    token = csrf_token(client)
    assert sign(client, petition, "warm@example.org", token).status_code == 303  # terms cached
    places = [part_owner(module, name) for module, name, _label in SIGN_PARTS]
    before = [getattr(owner, attribute) for owner, attribute in places]
    with _timed_parts() as spent, flask_requests(app) as seen:
        assert sign(client, petition, "zoe@example.org", token).status_code == 303
    assert seen == [] and spent.pop("calls") == 1
    assert [getattr(owner, attribute) for owner, attribute in places] == before
    # On SQLite the statement runs in the session's transaction, not alone through psycopg.
    alone = db.engine.dialect.name == "postgresql"
    driver = (
        "    the statement as psycopg takes it",
        "    the statement",
        "      its connection checked out",
        "      sent by psycopg",
    )
    labels = [label for *_, label in SIGN_PARTS if alone or label not in driver]
    assert [label for label in labels if not spent.get(label)] == []
    assert spent["the sign lane, in all"] > spent["  the service"] > spent["    the Redis round trip"]
    assert support_of("zoe@example.org") is not None


def test_each_signature_is_read_alone_though_the_lane_fills_its_forms_in_again(app, client):
    """The lane keeps its forms to fill in again: each signature's support has its own
    answers and nothing of the one before (a comment, a postcode, consents, a pledge), and a
    form with a mistake after a good one is still the view's."""
    boycott = make_campaign(CampaignKind.BOYCOTT)
    first = {"comment": "Too much plastic", "postcode": "SW1A 1AA", "monthly_spend": "40"}
    assert sign(client, boycott, "one@example.org", data=first).status_code == 303
    second = {"name": "Ana Peña", "is_public": "", "consents_to_updates": ""}
    with flask_requests(app) as seen:
        assert sign(app.test_client(), boycott, "two@example.org", data=second).status_code == 303
    assert seen == [1]  # the token from Flask; the signature in the lane, with the first's form
    with flask_requests(app) as seen:
        bad = sign(app.test_client(), boycott, "not-an-address")
    assert bad.status_code == 400 and seen == [1, 1]
    with flask_requests(app) as seen:
        assert sign(app.test_client(), boycott, "three@example.org").status_code == 303
    assert seen == [1]
    one, two, three = (support_of(f"{n}@example.org") for n in ("one", "two", "three"))
    assert (one.comment, one.postcode, one.monthly_spend, one.is_public, one.consents_to_updates) == (
        "Too much plastic",
        "SW1A 1AA",
        40,
        True,
        True,
    )
    assert (two.name, two.comment, two.postcode, two.monthly_spend) == ("Ana Peña", None, None, None)
    assert (two.is_public, two.consents_to_updates) == (False, False)
    assert (three.name, three.comment, three.monthly_spend, three.is_public) == (
        "Zoë Ortiz",
        None,
        None,
        True,
    )


def test_a_kept_form_filled_in_again_is_the_form_built_anew(app):
    """``FormsToFillAgain``: a form given back is the one taken next for that kind and
    language, and filled in with new data it validates, reads and fails as a new one does; a
    form not given back (its signature refused) is not taken again."""
    from flask_babel import force_locale
    from werkzeug.datastructures import MultiDict

    from campaign.services import supports as service
    from campaign.supports.forms import SupportForm
    from campaign.supports.sign_lane import FormsToFillAgain

    petition = make_campaign()
    terms = service.campaign_terms("petition", petition.slug)
    full = MultiDict({**SIGN, "email": "a@example.org", "comment": "Yes", "postcode": "N1 9GU"})
    bare = MultiDict({"name": "B", "email": "b@example.org", "country": "FR"})
    wrong = MultiDict({"name": "C", "email": "nope", "country": "XX", "postcode": "%%"})
    forms = FormsToFillAgain()
    with app.test_request_context(), force_locale("en"):

        def anew(data):
            form = SupportForm.for_campaign(terms, shown=False, formdata=data, meta={"csrf": False})
            return form.validate(), form.support_data(), form.errors

        first = forms.take(terms, "en", full)
        assert first.validate() and first.support_data() == anew(full)[1]
        forms.give_back(first, terms, "en")
        assert forms.take(terms, "es", bare) is not first  # another language's
        again = forms.take(terms, "en", bare)
        assert again is first
        assert (again.validate(), again.support_data(), again.errors) == anew(bare)
        forms.give_back(again, terms, "en")
        refused = forms.take(terms, "en", wrong)
        assert refused is first
        assert (refused.validate(), refused.errors) == anew(wrong)[::2] and refused.errors
        assert forms.take(terms, "en", full) is not refused  # not given back
