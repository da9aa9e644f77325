"""Stored XSS, email header injection and formula injection do not get through."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Campaign, CampaignKind, Support
from campaign.services import supports as support_service
from tests.factories import make_brand, make_campaign, make_user
from tests.helpers import login, post_form

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html


def test_stored_xss_through_every_user_field_is_inert(client, run_jobs):
    organiser = make_user("organiser@example.org", name=f"Org {XSS}")
    brand = make_brand("Acme")
    login(client, organiser.email)
    post_form(
        client,
        "/proposals/new",
        {
            "title": f"A proposal {XSS}",
            "summary": f"Summary {XSS}",
            "body": f"Body {XSS}",
            "goal": "100",
            "target_brand_id": str(brand.id),
        },
    )
    proposal = db.session.execute(select(Campaign)).scalar_one()
    proposal.state = "open"
    db.session.commit()
    page = f"/proposals/{proposal.slug}"
    post_form(client, f"{page}/comments", {"body": f"Comment {XSS}"}, page=page)
    support_service.add_support(
        proposal.id, name=f"Name {XSS}", email="s@example.org", country="GB", comment=f"Why {XSS}"
    )
    for url in (
        page,
        "/",
        "/campaigns/",
        f"/brands/{brand.slug}",
        f"/brands/{brand.slug}/roadmap",
        "/account/",
        f"{page}/supporters",
    ):
        assert_inert(client.get(url).get_data(as_text=True))
    api = client.get("/api/v1/campaigns")
    assert api.is_json and api.mimetype == "application/json"  # data, never rendered as HTML


def test_line_breaks_cannot_reach_email_headers(client, run_jobs, outbox):
    petition = make_campaign(CampaignKind.PETITION)
    page = f"/petitions/{petition.slug}"
    response = post_form(
        client,
        f"{page}/support",
        {"name": "Ada", "email": "ada@example.org\r\nBcc: victim@example.org", "country": "GB"},
        page=page,
    )
    assert response.status_code == 400
    assert db.session.query(Support).count() == 0
    login(client, make_user().email)
    post_form(
        client,
        "/petitions/new",
        {
            "title": "Fair pay\r\nBcc: victim@example.org",
            "summary": "S",
            "body": "B",
            "goal": "100",
            "target_brand_id": str(petition.target_brand_id),
            "demand": "D",
        },
    )
    created = db.session.execute(select(Campaign).filter(Campaign.id != petition.id)).scalar_one()
    assert "\n" not in created.title and created.title == "Fair pay Bcc: victim@example.org"
    run_jobs()
    assert all("victim" not in (m["Bcc"] or "") for m in outbox())
