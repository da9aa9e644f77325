"""Nothing is a dead end: campaigns can be closed or taken down, claims and suggestions
refused, reports dismissed, endorsements renewed, lost notices recovered."""

from datetime import timedelta

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import (
    Brand,
    BrandMember,
    CampaignKind,
    CampaignState,
    Comment,
    CommentReport,
    Notice,
    Role,
    Support,
    utcnow,
)
from campaign.services import proposals as proposal_service
from tests.factories import SupportFactory, make_brand, make_campaign, make_user
from tests.helpers import login, post_form


def test_a_moderator_takes_a_campaign_down_and_the_organiser_sees_why(client):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    page = f"/petitions/{petition.slug}"
    login(client, make_user(role=Role.MODERATOR).email)
    post_form(
        client,
        f"/moderation/campaigns/{petition.id}/hide",
        {"reason": "It names a private person."},
        page=page,
    )
    db.session.commit()
    assert db.session.get(type(petition), petition.id).state == CampaignState.HIDDEN
    post_form(client, "/logout", {}, page="/account/")
    assert client.get(page).status_code == 404
    login(client, organiser.email)
    assert "It names a private person." in client.get(page).get_data(as_text=True)


def test_the_organiser_closes_a_campaign_without_a_closing_date(client):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    login(client, organiser.email)
    page = f"/petitions/{petition.slug}"
    asked = post_form(client, f"{page}/close", {}, page=page)
    assert "Close this petition now?" in asked.get_data(as_text=True)  # it asks first
    db.session.commit()
    assert db.session.get(type(petition), petition.id).state == CampaignState.OPEN
    post_form(client, f"{page}/close", {"confirmed": "yes"}, page=page)
    db.session.commit()
    assert db.session.get(type(petition), petition.id).state == CampaignState.CLOSED
    assert "no longer takes signatures" in client.get(page).get_data(as_text=True)


def test_moderators_refuse_claims_and_suggestions_and_dismiss_reports(client):
    brand = make_brand("Acme")
    claimant = make_user()
    db.session.add(BrandMember(brand_id=brand.id, user_id=claimant.id, title="CEO"))
    suggestion = Brand(name="Maybe Co", slug="maybe-co", suggested_by_id=claimant.id)
    db.session.add(suggestion)
    proposal = make_campaign(CampaignKind.PROPOSAL)
    comment = Comment(campaign_id=proposal.id, user_id=claimant.id, body="Fine comment")
    db.session.add(comment)
    db.session.flush()
    db.session.add(CommentReport(comment_id=comment.id, user_id=claimant.id))
    db.session.commit()
    member = db.session.execute(select(BrandMember)).scalar_one()
    login(client, make_user(role=Role.MODERATOR).email)
    post_form(client, f"/moderation/claims/{member.id}/reject", {}, page="/moderation/")
    post_form(client, f"/moderation/brands/{suggestion.id}/reject", {}, page="/moderation/")
    post_form(client, f"/moderation/comments/{comment.id}/dismiss", {}, page="/moderation/")
    assert db.session.query(BrandMember).count() == 0
    assert db.session.query(Brand).filter_by(name="Maybe Co").count() == 0
    assert db.session.query(CommentReport).count() == 0
    assert db.session.query(Comment).filter_by(hidden_at=None).count() == 1
    queue = client.get("/moderation/").get_data(as_text=True)
    assert "No claims are waiting." in queue and "No reported comments." in queue


def test_an_endorsement_due_for_review_is_renewed(client):
    organiser = make_user("organiser@example.org")
    buycott = make_campaign(CampaignKind.BUYCOTT, organiser=organiser)
    endorsement = buycott.endorsements[0]
    endorsement.evidence_on = (utcnow() - timedelta(days=400)).date()
    db.session.commit()
    login(client, organiser.email)
    page = f"/buycotts/{buycott.slug}"
    assert "Renew the endorsement" in client.get(page).get_data(as_text=True)
    future = post_form(
        client,
        f"{page}/endorsements/{endorsement.id}/renew",
        {"evidence_on": "2999-01-01"},
        page=page,
        follow_redirects=True,
    )
    assert "not in the future" in future.get_data(as_text=True)
    today = utcnow().date().isoformat()
    post_form(client, f"{page}/endorsements/{endorsement.id}/renew", {"evidence_on": today}, page=page)
    db.session.refresh(endorsement)
    assert not endorsement.needs_review
    assert "due for review" not in client.get(page).get_data(as_text=True)


def test_a_lost_notice_is_swept_and_sent_once(app, client, run_jobs, outbox):
    from campaign.jobs.sweeper import sweep_job
    from campaign.services.campaigns import post_update

    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    SupportFactory(campaign=petition, email="p0@example.org", consents_to_updates=True)
    run_jobs()
    # Redis loses the job: the update is stored, its notice stays undone.
    real_redis = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("groundswell.redis", None)
    post_update(petition.id, organiser.id, "Big news", "We met the CEO.")
    notice = db.session.execute(select(Notice)).scalar_one()
    assert notice.done_at is None
    app.config["REDIS_URL"] = real_redis
    app.extensions.pop("groundswell.redis", None)
    assert sweep_job() == 0  # too fresh to be called lost
    notice.created_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    assert sweep_job() == 1
    run_jobs()
    run_jobs()
    assert [m["To"] for m in outbox() if "Big news" in m["Subject"]] == ["p0@example.org"]
    db.session.commit()
    assert db.session.get(Notice, notice.id).done_at is not None
    assert sweep_job() == 0


def test_a_merge_revives_a_pending_row_so_nobody_is_counted_nowhere(app, run_jobs):
    from campaign.services import supports as support_service

    brand = make_brand("Fairfield")
    keep = make_campaign(CampaignKind.PROPOSAL, brand=brand)
    dup = make_campaign(CampaignKind.PROPOSAL, brand=brand)
    SupportFactory(campaign=dup, email="p7@example.org", consents_to_updates=True)  # counted on the duplicate
    support_service.add_support(keep.id, name="P7", email="p7@example.org", country="GB")
    member = make_user()
    db.session.add(BrandMember(brand_id=brand.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    proposal_service.set_status(dup.id, member, "duplicate", "Same idea.", duplicate_of_id=keep.id)
    run_jobs()
    db.session.commit()
    row = db.session.execute(select(Support).filter_by(campaign_id=keep.id)).scalar_one()
    assert row.confirmed_at is not None and row.consents_to_updates is False
    db.session.refresh(keep)
    assert keep.confirmed_count == 1
