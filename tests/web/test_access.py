"""Every route that needs a role or ownership refuses strangers."""

import pytest

from campaign.models import CampaignState
from tests.factories import make_campaign, make_user
from tests.helpers import csrf_token, login


@pytest.fixture
def pending(app):
    return make_campaign(state=CampaignState.PENDING)


MODERATOR_ROUTES = [
    ("GET", "/moderation/"),
    ("GET", "/moderation/campaigns/{id}"),
    ("POST", "/moderation/campaigns/{id}/approve"),
    ("POST", "/moderation/campaigns/{id}/reject"),
]


@pytest.mark.parametrize(("method", "route"), MODERATOR_ROUTES)
def test_members_are_refused_moderator_routes(client, pending, method, route):
    login(client, make_user().email)
    url = route.format(id=pending.id)
    response = client.open(
        url, method=method, data={"csrf_token": csrf_token(client, "/account/"), "reason": "x"}
    )
    assert response.status_code == 403
    assert "You can’t do that here" in response.get_data(as_text=True)
    assert pending.state == CampaignState.PENDING


@pytest.mark.parametrize(("method", "route"), MODERATOR_ROUTES)
def test_anonymous_visitors_are_sent_to_log_in(client, pending, method, route):
    url = route.format(id=pending.id)
    response = client.open(url, method=method, data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(("method", "suffix"), [("GET", "/edit"), ("POST", "/edit"), ("POST", "/submit")])
def test_only_the_organiser_may_edit_or_submit(client, method, suffix):
    owner = make_user()
    draft = make_campaign(organiser=owner, state=CampaignState.REJECTED)
    login(client, make_user().email)
    url = f"/petitions/{draft.slug}{suffix}"
    # A stranger cannot even see a draft or a sent-back campaign.
    response = client.open(url, method=method, data={"csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 404
    public = make_campaign(organiser=owner, state=CampaignState.OPEN)
    url = f"/petitions/{public.slug}{suffix}"
    response = client.open(url, method=method, data={"csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 403


def test_account_pages_need_a_login(client):
    for url in ("/account/", "/petitions/new", "/boycotts/new", "/buycotts/new", "/proposals/new"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_moderators_can_see_pending_campaigns(client, pending):
    from campaign.models import Role

    login(client, make_user(role=Role.MODERATOR).email)
    assert client.get(f"/petitions/{pending.slug}").status_code == 200
    assert client.get(f"/moderation/campaigns/{pending.id}").status_code == 200
