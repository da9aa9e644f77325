"""People are told: organisers of a review's outcome, everyone of what an irreversible action
will do before it happens, supporters of what they did and how to take it back."""

from __future__ import annotations

from campaign.extensions import db
from campaign.jobs.supports import support_token
from campaign.models import (
    BrandMember,
    CampaignKind,
    CampaignState,
    Delivery,
    Role,
    Stance,
    Support,
    utcnow,
)
from campaign.services import campaigns as campaign_service
from campaign.services import deliveries as delivery_service
from campaign.services import supports as support_service
from tests.factories import SupportFactory, make_brand, make_campaign, make_user
from tests.helpers import body_text, link_in, login, post_form


def test_the_organiser_is_emailed_when_a_campaign_is_approved_or_sent_back(app, run_jobs, outbox):
    organiser = make_user("org@example.org")
    moderator = make_user("mod@example.org", role=Role.MODERATOR)
    campaign = make_campaign(organiser=organiser, state=CampaignState.PENDING)
    campaign.submitted_at = utcnow()
    db.session.commit()
    campaign_service.reject(campaign.id, moderator.id, "Name the brand's parent company too.")
    run_jobs()
    run_jobs()  # a second run sends nothing twice
    sent = outbox()
    assert [m["To"] for m in sent] == ["org@example.org"]
    assert "needs changes" in sent[0]["Subject"]
    assert "Name the brand's parent company too." in body_text(sent[0])
    assert link_in(sent[0], f"/petitions/{campaign.slug}/edit")

    # Fixed and submitted again: this review's outcome is told too.
    campaign_service.submit_for_review(campaign.id, organiser.id)
    campaign_service.approve(campaign.id, moderator.id)
    run_jobs()
    sent = outbox()
    assert len(sent) == 2 and "is published" in sent[1]["Subject"]
    assert "anyone can support it" in body_text(sent[1])


def test_delivering_and_closing_ask_first_and_say_what_will_happen(client, run_jobs):
    organiser = make_user("org@example.org")
    petition = make_campaign(organiser=organiser, brand=make_brand("Northwind Coffee"))
    SupportFactory(campaign=petition, name=f"P{1}", email=f"p{1}@example.org", consents_to_updates=True)
    run_jobs()  # the count folded in
    login(client, organiser.email)
    page = f"/petitions/{petition.slug}"
    asked = post_form(client, f"{page}/deliver", {}, page=page)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Deliver 1 signature to Northwind Coffee now?" in html
    assert "You can deliver again later" in html and 'name="confirmed" value="yes"' in html
    assert db.session.query(Delivery).count() == 0  # nothing happened yet
    done = post_form(client, f"{page}/deliver", {"confirmed": "yes"}, page=page)
    assert done.status_code == 302 and db.session.query(Delivery).count() == 1

    asked = post_form(client, f"{page}/close", {}, page=page)
    assert "Close this petition now?" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(petition), petition.id).state == CampaignState.OPEN
    victory = client.get(f"{page}/victory").get_data(as_text=True)
    assert "A victory needs at least 5 confirmed supporters; this campaign has 1 signature" in victory
    assert "cannot be undone" in victory


def test_brand_members_see_their_inbox_and_the_brand_is_badged(client):
    brand = make_brand("Northwind Coffee")
    member = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand_id=brand.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    petition = make_campaign(brand=brand)
    delivery_service.answer(
        petition.id,
        brand.id,
        author_name="Sam Lee",
        stance=Stance.DISCUSSING,
        body="We are looking into it.",
        author_id=member.id,
    )
    proposal = make_campaign(CampaignKind.PROPOSAL, brand=brand)
    from campaign.services.proposals import add_comment

    add_comment(proposal.id, member.id, "Thanks, we are costing it.")
    login(client, member.email)
    home = client.get("/").get_data(as_text=True)
    assert f'href="/brands/{brand.slug}/inbox"' in home and "Brand inbox" in home
    assert "For Northwind Coffee" in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "For Northwind Coffee" in client.get(f"/proposals/{proposal.slug}").get_data(as_text=True)


def test_after_supporting_the_page_says_so(client, run_jobs):
    petition = make_campaign()
    # A browser without an account: pending until the emailed link is opened.
    post_form(
        client,
        f"/petitions/{petition.slug}/support",
        {"name": "Ada", "email": "ada@example.org", "country": "GB"},
        page=f"/petitions/{petition.slug}",
    )
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "You signed — check your inbox to confirm" in html
    assert 'action="/petitions/' + petition.slug + '/support"' not in html

    # A member: the date, and a way to withdraw.
    member = make_user("member@example.org")
    other = client.application.test_client()
    login(other, member.email)
    post_form(
        other,
        f"/petitions/{petition.slug}/support",
        {"name": member.name, "email": member.email, "country": "GB"},
        page=f"/petitions/{petition.slug}",
    )
    html = other.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "You signed on" in html and "Withdraw</button>" in html


def test_every_email_to_a_supporter_can_withdraw_and_a_conditional_pledge_waits(client, run_jobs, outbox):
    organiser = make_user("org@example.org")
    petition = make_campaign(organiser=organiser)
    SupportFactory(campaign=petition, name=f"P{1}", email=f"p{1}@example.org", consents_to_updates=True)
    run_jobs()
    campaign_service.post_update(
        petition.id, organiser.id, "Delivered soon", "We deliver next week. Thank you all."
    )
    run_jobs()
    update = [m for m in outbox() if m["To"] == "p1@example.org" and "Delivered soon" in m["Subject"]]
    assert update and link_in(update[0], "/supports/withdraw/")

    boycott = make_campaign(CampaignKind.BOYCOTT)
    result = support_service.add_support(
        boycott.id, name="Cy", email="cy@example.org", country="GB", condition_threshold=10
    )
    token = support_token("confirm-support", db.session.get(Support, result.support_id))
    page = client.get(f"/supports/confirm/{token}").get_data(as_text=True)
    assert "It waits for 9 more pledges" in page and "now counts" not in page
