"""Brands: directory, suggestions, certifications, verified members and their inbox."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Brand, BrandMember, Role
from tests.factories import make_brand, make_user
from tests.helpers import link_in, login, post_form


def test_moderators_create_and_edit_brands_with_an_ownership_tree(client):
    group = make_brand("Northwind Group")
    login(client, make_user(role=Role.MODERATOR).email)
    response = post_form(
        client,
        "/brands/new",
        {
            "name": "Northwind Tea",
            "parent_id": str(group.id),
            "website": "https://tea.example",
            "description": "Tea.",
            "contact_email": "care@tea.example",
            "email_domains": "tea.example",
        },
    )
    assert response.status_code == 302
    tea = db.session.execute(select(Brand).filter_by(name="Northwind Tea")).scalar_one()
    assert tea.parent_id == group.id and tea.domains == ["tea.example"]
    page = client.get(f"/brands/{group.slug}").get_data(as_text=True)
    assert "Northwind Tea" in page
    # A brand cannot own its own parent.
    bad = post_form(
        client,
        f"/brands/{group.slug}/edit",
        {
            "name": group.name,
            "parent_id": str(tea.id),
            "website": "",
            "description": "",
            "contact_email": "",
            "email_domains": "",
        },
        follow_redirects=True,
    )
    assert "Not a valid choice" in bad.get_data(as_text=True) or "cannot be owned" in bad.get_data(
        as_text=True
    )
    db.session.refresh(group)
    assert group.parent_id is None
    post_form(
        client,
        f"/brands/{tea.slug}/certifications",
        {
            "name": "Fairtrade",
            "issuer": "Fairtrade International",
            "evidence_url": "https://tea.example/fairtrade",
            "expires_on": "2030-01-01",
            "verified": "y",
        },
        page=f"/brands/{tea.slug}/edit",
    )
    page = client.get(f"/brands/{tea.slug}").get_data(as_text=True)
    assert "Fairtrade" in page and "Verified" in page


def test_members_suggest_brands_that_moderators_approve(client):
    member = make_user()
    login(client, member.email)
    post_form(
        client,
        "/brands/suggest",
        {"name": "Acme Shoes", "parent_id": "0", "website": "", "description": "Shoes"},
    )
    brand = db.session.execute(select(Brand).filter_by(name="Acme Shoes")).scalar_one()
    assert brand.approved_at is None and brand.suggested_by_id == member.id
    assert f'href="/brands/{brand.slug}"' not in client.get("/brands/").get_data(as_text=True)
    assert client.get(f"/brands/{brand.slug}").status_code == 404
    post_form(client, "/logout", {}, page="/account/")
    login(client, make_user(role=Role.MODERATOR).email)
    assert "Acme Shoes" in client.get("/moderation/").get_data(as_text=True)
    post_form(client, f"/moderation/brands/{brand.id}/approve", {}, page="/moderation/")
    post_form(client, "/logout", {}, page="/account/")
    assert f'href="/brands/{brand.slug}"' in client.get("/brands/").get_data(as_text=True)


def test_claim_verified_by_a_link_to_a_work_address(client, run_jobs, outbox):
    brand = make_brand("Acme")
    user = make_user()
    login(client, user.email)
    wrong = post_form(
        client, f"/brands/{brand.slug}/claim", {"title": "Head of Sourcing", "work_email": "me@gmail.com"}
    )
    assert "verified domains" in wrong.get_data(as_text=True)
    assert db.session.query(BrandMember).count() == 0
    assert client.get(f"/brands/{brand.slug}/inbox").status_code == 403
    post_form(
        client,
        f"/brands/{brand.slug}/claim",
        {"title": "Head of Sourcing", "work_email": f"me@{brand.domains[0]}"},
    )
    run_jobs()
    [message] = outbox()
    assert message["To"] == f"me@{brand.domains[0]}"
    link = link_in(message, "/brands/claims/verify/")
    assert "Confirm the claim" in client.get(link).get_data(as_text=True)
    assert client.get(f"/brands/{brand.slug}/inbox").status_code == 403  # opening is not enough
    response = post_form(client, link, {}, follow_redirects=True)
    assert "You are verified" in response.get_data(as_text=True)
    assert client.get(f"/brands/{brand.slug}/inbox").status_code == 200
    again = post_form(client, f"/brands/{brand.slug}/claim", {"title": "x", "work_email": ""})
    assert "already claimed" in again.get_data(as_text=True)


def test_claim_without_a_work_address_waits_for_a_moderator(client):
    brand = make_brand("Acme")
    user = make_user()
    login(client, user.email)
    post_form(client, f"/brands/{brand.slug}/claim", {"title": "Founder", "work_email": ""})
    member = db.session.execute(select(BrandMember)).scalar_one()
    assert member.verified_at is None
    post_form(client, "/logout", {}, page="/account/")
    moderator = make_user(role=Role.MODERATOR)
    login(client, moderator.email)
    post_form(client, f"/moderation/claims/{member.id}/approve", {}, page="/moderation/")
    db.session.refresh(member)
    assert member.verified_at is not None and member.approved_by_id == moderator.id


def test_strangers_are_refused_brand_admin_routes(client):
    brand = make_brand()
    login(client, make_user().email)
    for method, url in [
        ("GET", "/brands/new"),
        ("GET", f"/brands/{brand.slug}/edit"),
        ("POST", f"/brands/{brand.slug}/certifications"),
        ("POST", f"/moderation/brands/{brand.id}/approve"),
        ("POST", "/moderation/claims/1/approve"),
        ("GET", f"/brands/{brand.slug}/inbox"),
    ]:
        from tests.helpers import csrf_token

        response = client.open(url, method=method, data={"csrf_token": csrf_token(client, "/account/")})
        assert response.status_code == 403, url
