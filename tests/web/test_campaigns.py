"""Starting, editing, submitting, reviewing and browsing campaigns of every kind."""

import re

import pytest

from campaign.extensions import db
from campaign.models import Campaign, CampaignKind, CampaignState, Role
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import login, post_form

BASE = {
    "title": "Fair pay for the people who pick our coffee",
    "summary": "Pay farmers a living income.",
    "body": "## Why\n\nBecause **farmers** are poor. <script>alert('x')</script>",
    "goal": "500",
    "closes_on": "",
}


def kind_fields(kind, brand):
    return {
        "petition": {"target_brand_id": str(brand.id), "demand": "Pay a living income."},
        "boycott": {"target_brand_id": str(brand.id), "demands": "Pay a living income\n\nPublish prices"},
        "buycott": {"endorsed_brands": str(brand.id), "reason": "Certified fair trade"},
        "proposal": {"target_brand_id": str(brand.id)},
    }[kind]


@pytest.fixture
def organiser(client):
    user = make_user("organiser@example.org")
    login(client, user.email)
    return user


@pytest.mark.parametrize("kind", ["petition", "boycott", "buycott", "proposal"])
def test_start_each_kind_as_a_draft_then_submit(client, organiser, kind):
    brand = make_brand("Northwind Coffee")
    response = post_form(client, f"/{kind}s/new", {**BASE, **kind_fields(kind, brand)})
    assert response.status_code == 302, response.get_data(as_text=True)
    campaign = db.session.execute(db.select(Campaign)).scalar_one()
    assert campaign.kind == CampaignKind(kind)
    assert campaign.state == CampaignState.DRAFT
    assert re.fullmatch(r"fair-pay-for-the-people-who-pick-our-coffee-[0-9a-f]{6}", campaign.slug)
    assert campaign.brands() == [brand]
    assert response.headers["Location"] == f"/{kind}s/{campaign.slug}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Only you can see this draft" in page
    assert "<script>" not in page and "<strong>farmers</strong>" in page
    if kind == "boycott":
        assert campaign.demand_list == ["Pay a living income", "Publish prices"]
    post_form(client, f"/{kind}s/{campaign.slug}/submit", {}, page=f"/{kind}s/{campaign.slug}")
    db.session.refresh(campaign)
    assert campaign.state == CampaignState.PENDING and campaign.submitted_at is not None


def test_a_slug_taken_by_an_unpublished_campaign_is_not_revealed(client, organiser):
    brand = make_brand()
    draft = make_campaign(state=CampaignState.DRAFT, title="A secret plan for the river")
    draft.slug = "a-secret-plan-for-the-river"
    db.session.commit()
    for title in ("A secret plan for the river", "Open air concerts for everyone"):
        post_form(client, "/petitions/new", {**BASE, **kind_fields("petition", brand), "title": title})
    mine = (
        db.session.execute(
            db.select(Campaign.slug).filter_by(organiser_id=organiser.id).order_by(Campaign.id)
        )
        .scalars()
        .all()
    )
    # Both get a suffix alike: whether a title's plain slug is taken cannot be told.
    assert [re.sub(r"-[0-9a-f]{6}$", "-*", s) for s in mine] == [
        "a-secret-plan-for-the-river-*",
        "open-air-concerts-for-everyone-*",
    ]


def test_same_title_gets_a_distinct_slug(client, organiser):
    brand = make_brand()
    fields = {**BASE, **kind_fields("petition", brand)}
    post_form(client, "/petitions/new", fields)
    post_form(client, "/petitions/new", fields)
    slugs = db.session.execute(db.select(Campaign.slug)).scalars().all()
    assert len(set(slugs)) == 2


def test_invalid_campaign_form_shows_errors_and_keeps_input(client, organiser):
    make_brand()
    response = post_form(
        client,
        "/petitions/new",
        {**BASE, "title": "Short", "goal": "0", "target_brand_id": "0", "demand": ""},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400  # sent back with its mistakes
    for message in (
        "Titles are 10 to 150 characters.",
        "Goals run from 10 to 100,000,000.",
        "Choose the brand this is addressed to.",
        "State the demand",
    ):
        assert message in html
    assert 'value="Short"' in html
    assert db.session.query(Campaign).count() == 0


def test_closing_date_must_be_in_the_future(client, organiser):
    brand = make_brand()
    response = post_form(
        client, "/petitions/new", {**BASE, **kind_fields("petition", brand), "closes_on": "2001-01-01"}
    )
    assert response.status_code == 400
    assert "Choose a closing date in the future." in response.get_data(as_text=True)
    assert db.session.query(Campaign).count() == 0


def test_unverified_member_cannot_start_a_campaign(client):
    user = make_user(verified=False)
    login(client, user.email)
    response = client.get("/petitions/new", follow_redirects=True)
    assert "Confirm your email address" in response.get_data(as_text=True)


def test_edit_a_draft(client, organiser):
    campaign = make_campaign(organiser=organiser, state=CampaignState.DRAFT)
    page = client.get(f"/petitions/{campaign.slug}/edit").get_data(as_text=True)
    assert campaign.title in page  # prefilled
    response = post_form(
        client,
        f"/petitions/{campaign.slug}/edit",
        {
            **BASE,
            "title": "A better title for the petition",
            "target_brand_id": str(campaign.target_brand_id),
            "demand": "New demand",
        },
    )
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.title == "A better title for the petition"
    assert campaign.demand == "New demand"


def test_open_campaign_can_no_longer_be_edited(client, organiser):
    campaign = make_campaign(organiser=organiser, state=CampaignState.OPEN)
    response = client.get(f"/petitions/{campaign.slug}/edit", follow_redirects=True)
    assert "can no longer be edited" in response.get_data(as_text=True)


def test_moderator_approves_and_the_campaign_goes_public(client):
    campaign = make_campaign(state=CampaignState.PENDING)
    assert client.get(f"/petitions/{campaign.slug}").status_code == 404  # not public yet
    moderator = make_user(role=Role.MODERATOR)
    login(client, moderator.email)
    queue = client.get("/moderation/").get_data(as_text=True)
    assert campaign.title in queue
    response = post_form(
        client,
        f"/moderation/campaigns/{campaign.id}/approve",
        {},
        page=f"/moderation/campaigns/{campaign.id}",
    )
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.state == CampaignState.OPEN and campaign.published_at is not None
    post_form(client, "/logout", {}, page="/account/")
    assert client.get(f"/petitions/{campaign.slug}").status_code == 200
    assert campaign.title in client.get("/campaigns/").get_data(as_text=True)


def test_moderator_rejects_with_a_reason_the_organiser_sees(client):
    organiser = make_user()
    campaign = make_campaign(organiser=organiser, state=CampaignState.PENDING)
    moderator = make_user(role=Role.MODERATOR)
    login(client, moderator.email)
    empty = post_form(
        client,
        f"/moderation/campaigns/{campaign.id}/reject",
        {"reason": ""},
        page=f"/moderation/campaigns/{campaign.id}",
    )
    assert empty.status_code == 400
    assert "Tell the organiser what to change." in empty.get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.state == CampaignState.PENDING
    post_form(
        client,
        f"/moderation/campaigns/{campaign.id}/reject",
        {"reason": "Name the brand's parent company."},
        page=f"/moderation/campaigns/{campaign.id}",
    )
    db.session.refresh(campaign)
    assert campaign.state == CampaignState.REJECTED
    post_form(client, "/logout", {}, page="/account/")
    login(client, organiser.email)
    page = client.get(f"/petitions/{campaign.slug}").get_data(as_text=True)
    assert "Name the brand&#39;s parent company." in page
    # Sent back campaigns can be edited and submitted again.
    assert client.get(f"/petitions/{campaign.slug}/edit").status_code == 200
    post_form(client, f"/petitions/{campaign.slug}/submit", {}, page=f"/petitions/{campaign.slug}")
    db.session.refresh(campaign)
    assert campaign.state == CampaignState.PENDING


def test_browse_filters_by_kind_and_text(client):
    make_campaign(CampaignKind.PETITION, title="Save the honeybees now")
    make_campaign(CampaignKind.BOYCOTT, title="Boycott the polluter today")
    make_campaign(CampaignKind.PETITION, title="A secret draft petition", state=CampaignState.DRAFT)
    all_html = client.get("/campaigns/").get_data(as_text=True)
    assert "Save the honeybees" in all_html and "Boycott the polluter" in all_html
    assert "secret draft" not in all_html
    boycotts = client.get("/campaigns/?kind=boycott").get_data(as_text=True)
    assert "Boycott the polluter" in boycotts and "honeybees" not in boycotts
    found = client.get("/campaigns/?q=HONEYBEE").get_data(as_text=True)
    assert "Save the <mark>honeybees</mark> now" in found and "polluter" not in found
    none = client.get("/campaigns/?q=100%25_").get_data(as_text=True)
    assert "No campaigns match" in none
    assert client.get("/campaigns/?kind=nonsense").status_code == 404


def test_brand_page_lists_campaigns_aimed_at_it(client):
    group = make_brand("Northwind Group")
    brand = make_brand("Northwind Coffee", parent=group)
    make_campaign(CampaignKind.PETITION, brand=brand, title="Coffee petition for farmers")
    make_campaign(CampaignKind.BUYCOTT, brand=brand, title="Buy the fair coffee brand")
    make_campaign(CampaignKind.PETITION, title="About another brand entirely")
    html = client.get(f"/brands/{brand.slug}").get_data(as_text=True)
    assert "Coffee petition for farmers" in html and "Buy the fair coffee brand" in html
    assert "another brand entirely" not in html
    assert "Northwind Group" in html  # part of its parent
    assert "Northwind Coffee" in client.get("/brands/").get_data(as_text=True)


def test_unknown_slugs_are_404(client):
    campaign = make_campaign(CampaignKind.BOYCOTT)
    assert client.get("/petitions/no-such-campaign").status_code == 404
    assert client.get(f"/petitions/{campaign.slug}").status_code == 404  # wrong kind
    assert client.get("/brands/no-such-brand").status_code == 404
    response = client.get(f"/campaigns/{campaign.slug}")
    assert response.status_code == 301 and response.headers["Location"] == f"/boycotts/{campaign.slug}"
