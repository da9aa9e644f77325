"""What each kind adds: boycott scope and conditional pledges, buycott brands, proposals,
escalation and my pledges."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.jobs.supports import support_token
from campaign.models import (
    BrandMember,
    Campaign,
    CampaignKind,
    CampaignState,
    Comment,
    Endorsement,
    Role,
    Support,
    utcnow,
)
from campaign.services import ServiceError
from campaign.services import proposals as proposal_service
from campaign.services import supports as support_service
from campaign.services.escalation import escalate
from tests.factories import SupportFactory, make_brand, make_campaign, make_user
from tests.helpers import cached_count, login, post_form

# ------------------------------------------------------------------------------ boycotts


def test_a_group_boycott_covers_the_subsidiaries(client):
    group = make_brand("Northwind Group")
    coffee = make_brand("Northwind Coffee", parent=group)
    beans = make_brand("Northwind Beans", parent=coffee)
    group_boycott = make_campaign(CampaignKind.BOYCOTT, brand=group, title="Boycott all of Northwind")
    group_boycott.group_scope = True
    only = make_campaign(CampaignKind.BOYCOTT, brand=group, title="Boycott the Northwind parent")
    only.group_scope = False
    db.session.commit()
    page = client.get(f"/brands/{beans.slug}").get_data(as_text=True)
    assert "Boycott all of Northwind" in page and "(a boycott of everything Northwind Group owns)" in page
    assert "Boycott the Northwind parent" not in page
    campaign_page = client.get(f"/boycotts/{group_boycott.slug}").get_data(as_text=True)
    assert "every brand it owns" in campaign_page and "Northwind Beans" in campaign_page


def test_the_pledge_check_follows_the_ownership_tree(client, run_jobs):
    group = make_brand("Northwind Group")
    coffee = make_brand("Northwind Coffee", parent=group)
    other = make_brand("Evergreen")
    boycott = make_campaign(CampaignKind.BOYCOTT, brand=group)
    boycott.group_scope = True
    buycott = make_campaign(CampaignKind.BUYCOTT, brand=other)
    db.session.commit()
    user = make_user("ada@example.org")
    login(client, user.email)
    for campaign, extra in ((boycott, {}), (buycott, {"pledged_brands": str(other.id)})):
        page = f"/{campaign.blueprint}/{campaign.slug}"
        post_form(
            client,
            f"{page}/support",
            {"name": "Ada", "email": user.email, "country": "GB", **extra},
            page=page,
        )
    run_jobs()
    mine = client.get("/account/pledges").get_data(as_text=True)
    assert "Northwind Coffee" in mine and "Evergreen" in mine
    check = client.get("/account/pledges?brand=coffee").get_data(as_text=True)
    assert "avoid it" in check and "of Northwind Group, which owns it" in check
    assert coffee.name in check
    prefer = client.get("/account/pledges?brand=everg").get_data(as_text=True)
    assert "prefer it" in prefer
    unknown = client.get("/account/pledges?brand=zzz").get_data(as_text=True)
    assert "No brand called" in unknown


@pytest.mark.parametrize("threshold", ["1", "1000001", "0"])
def test_conditional_threshold_out_of_range_is_refused(client, threshold):
    boycott = make_campaign(CampaignKind.BOYCOTT)
    page = f"/boycotts/{boycott.slug}"
    response = post_form(
        client,
        f"{page}/support",
        {"name": "A", "email": "a@example.org", "country": "GB", "condition_threshold": threshold},
        page=page,
    )
    assert response.status_code == 400
    assert "Enter a number from 2 to 1,000,000." in response.get_data(as_text=True)
    assert db.session.query(Support).count() == 0
    with pytest.raises(ServiceError, match="from 2 to 1,000,000"):
        support_service.add_support(
            boycott.id, name="A", email="a@example.org", country="GB", condition_threshold=int(threshold)
        )


def test_conditional_pledgers_are_told_exactly_once_when_concurrent_pledges_cross(app, run_jobs, outbox):
    boycott = make_campaign(CampaignKind.BOYCOTT, goal=10_000)
    for n in range(3):
        SupportFactory(
            campaign=boycott, email=f"p{n}@example.org", consents_to_updates=True, condition_threshold=20
        )
    SupportFactory(
        campaign=boycott, email="p3@example.org", consents_to_updates=True, condition_threshold=500
    )
    run_jobs()
    assert not [m for m in outbox() if m["Subject"].startswith("It's on")]
    boycott_id = boycott.id

    def one(n: int):
        with app.app_context():
            result = support_service.add_support(
                boycott_id, name=f"Q{n}", email=f"q{n}@example.org", country="FR"
            )
            support_service.confirm(
                support_token("confirm-support", db.session.get(Support, result.support_id))
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(30)))
    for _ in range(3):
        run_jobs()
    told = sorted(m["To"] for m in outbox() if m["Subject"].startswith("It's on"))
    assert told == ["p0@example.org", "p1@example.org", "p2@example.org"]
    # Folding and notifying again changes nothing.
    from campaign.jobs.counting import fold_counts_job

    fold_counts_job()
    run_jobs()
    assert len([m for m in outbox() if m["Subject"].startswith("It's on")]) == 3

    assert cached_count(boycott) == 34


def test_conditional_pledges_are_read_from_their_own_index_however_many_supports_have_none(app, database):
    """A campaign of many supports with a few conditional pledges: the boycott page's summary
    of them and the fold's check for the ones its count switches on (which runs for every
    campaign it folds) each read the partial index of conditional pledges, never every support.
    Each statement is caught as it runs and its plan read (SQLite: told to use the index, it
    answers "no query solution" unless the statement implies the index's condition)."""
    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    from campaign.models import CountDelta, day_of
    from campaign.page_queries import conditional_summary
    from campaign.services.counting import fold_counts

    boycott = make_campaign(CampaignKind.BOYCOTT, goal=10_000)
    for n in range(3):
        SupportFactory(campaign=boycott, email=f"p{n}@example.org", condition_threshold=20 + n)
    db.session.execute(
        text(
            "INSERT INTO supports (campaign_id, email, email_canonical, name, is_public, country,"
            " consents_to_updates, confirmation_sends, created_at, confirmed_at)"
            " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
            " SELECT :campaign, 'n' || i || '@example.org', 'n' || i || '@example.org', 'N',"
            " true, 'GB', false, 1, :now, :now FROM n"
        ),
        {"campaign": boycott.id, "now": utcnow()},
    )
    db.session.add(CountDelta(campaign_id=boycott.id, country="GB", delta=5000, day=day_of(utcnow())))
    db.session.commit()
    db.session.execute(text("ANALYZE supports"))
    db.session.commit()

    caught = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "condition_threshold" in statement and "INSERT" not in statement:
            caught.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        summary = conditional_summary.__wrapped__(db.session.get(Campaign, boycott.id))
        fold_counts()
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)
    assert summary == {"total": 3, "met": 0, "next_threshold": 20, "next_waiting": 1}
    assert len(caught) == 3, caught  # the summary's two reads, the fold's UPDATE
    with db.engine.connect() as conn:
        if database.backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # as if the table were big
        for statement, parameters in caught:
            if database.backend == "postgresql":
                plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
                assert "ix_supports_conditional" in plan, plan
            else:
                forced = re.sub(
                    r"\b(FROM|UPDATE) supports\b",
                    r"\1 supports INDEXED BY ix_supports_conditional",
                    statement,
                    count=1,
                )
                assert forced != statement
                try:
                    conn.exec_driver_sql(forced, parameters)
                except OperationalError as exc:
                    pytest.fail(f"{statement} cannot use the index of conditional pledges: {exc}")
        conn.rollback()


def test_a_won_boycott_tells_pledgers_to_buy_again_and_becomes_a_buycott(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    boycott = make_campaign(CampaignKind.BOYCOTT, organiser=organiser)
    for n in range(5):
        SupportFactory(campaign=boycott, email=f"p{n}@example.org", consents_to_updates=True)
    run_jobs()
    login(client, organiser.email)
    post_form(
        client,
        f"/boycotts/{boycott.slug}/victory",
        {"story": "Northwind signed the safety accord and published its factories."},
    )
    run_jobs()
    run_jobs()
    won = [m for m in outbox() if m["Subject"].startswith("We won")]
    assert len(won) == 5
    from tests.helpers import body_text

    assert "you can buy from it again" in body_text(won[0])
    response = post_form(
        client, f"/boycotts/{boycott.slug}/thank-you-buycott", {}, page=f"/boycotts/{boycott.slug}"
    )
    assert response.status_code == 302 and "/buycotts/" in response.headers["Location"]
    buycott = db.session.execute(select(Campaign).filter_by(kind=CampaignKind.BUYCOTT)).scalar_one()
    assert buycott.state == CampaignState.DRAFT and buycott.thanks_for_id == boycott.id
    again = post_form(
        client,
        f"/boycotts/{boycott.slug}/thank-you-buycott",
        {},
        page=f"/boycotts/{boycott.slug}",
        follow_redirects=True,
    )
    assert "already started" in again.get_data(as_text=True)
    assert [e.brand_id for e in buycott.endorsements] == [boycott.target_brand_id]


# ------------------------------------------------------------------------------ buycotts


def test_buycott_pledges_name_brands_and_brand_pages_show_the_total(client, run_jobs):
    a, b = make_brand("Evergreen"), make_brand("Fairfield")
    buycott = make_campaign(CampaignKind.BUYCOTT, brand=a)
    buycott.endorsements.append(Endorsement(brand=b, reason="Living wage"))
    db.session.commit()
    page = f"/buycotts/{buycott.slug}"
    form = client.get(page).get_data(as_text=True)
    assert "Which of these brands will you buy from?" in form
    ghost = post_form(
        client,
        f"{page}/support",
        {"name": "A", "email": "a@example.org", "country": "GB", "pledged_brands": "99999"},
        page=page,
    )
    assert ghost.status_code == 400 and db.session.query(Support).count() == 0
    for n, brands, spend in ((0, [a.id], "30"), (1, [a.id, b.id], "50")):
        support_service.confirm(
            support_token(
                "confirm-support",
                db.session.get(
                    Support,
                    support_service.add_support(
                        buycott.id,
                        name="P",
                        email=f"p{n}@example.org",
                        country="GB",
                        monthly_spend=int(spend),
                        pledged_brand_ids=brands,
                    ).support_id,
                ),
            )
        )
    run_jobs()
    a_page = client.get(f"/brands/{a.slug}").get_data(as_text=True)
    assert "<strong>2</strong> customers pledged to buy from Evergreen, about €80 a month" in a_page
    b_page = client.get(f"/brands/{b.slug}").get_data(as_text=True)
    assert "<strong>1</strong> customer pledged to buy from Fairfield, about €50 a month" in b_page
    with pytest.raises(ServiceError, match="endorses"):
        support_service.add_support(
            buycott.id, name="x", email="x@example.org", country="GB", pledged_brand_ids=[99999]
        )


def test_endorsements_with_old_evidence_need_review(client):
    buycott = make_campaign(CampaignKind.BUYCOTT)
    endorsement = buycott.endorsements[0]
    endorsement.evidence_on = (utcnow() - timedelta(days=400)).date()
    db.session.commit()
    assert endorsement.needs_review
    assert "due for review" in client.get(f"/buycotts/{buycott.slug}").get_data(as_text=True)


def test_an_endorsed_brand_that_does_not_exist_is_refused(client):
    login(client, make_user().email)
    response = post_form(
        client,
        "/buycotts/new",
        {
            "title": "Buy from the good ones",
            "summary": "S",
            "body": "B",
            "goal": "100",
            "endorsed_brands": "424242",
            "reason": "Good",
        },
    )
    assert response.status_code == 400 and "not a valid choice" in response.get_data(as_text=True)
    assert db.session.query(Campaign).count() == 0


# ------------------------------------------------------------------------------ proposals


def test_coauthors_must_be_members_and_accept(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    proposal = make_campaign(CampaignKind.PROPOSAL, organiser=organiser)
    assert proposal_service.invite_coauthor(proposal.id, organiser.id, "nobody@example.org") is None
    friend = make_user("friend@example.org", name="Friendly Member")
    login(client, organiser.email)
    post_form(
        client,
        f"/proposals/{proposal.slug}/coauthors",
        {"email": friend.email},
        page=f"/proposals/{proposal.slug}",
    )
    run_jobs()
    assert [m["To"] for m in outbox()] == [friend.email]  # the invitee is told by email
    post_form(client, "/logout", {}, page="/account/")
    login(client, friend.email)
    profile = client.get("/account/").get_data(as_text=True)
    assert "Invitations to co-author" in profile
    invitation = proposal.coauthors[0] if proposal.coauthors else None
    db.session.refresh(proposal)
    invitation = proposal.coauthors[0]
    post_form(client, f"/coauthors/{invitation.id}/accept", {}, page="/account/")
    page = client.get(f"/proposals/{proposal.slug}").get_data(as_text=True)
    assert "Friendly Member" in page


def test_similar_open_proposals_are_suggested(client):
    brand = make_brand("Fairfield")
    make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Refill stations for rice and oats")
    make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Paper bags at the checkout")
    make_campaign(CampaignKind.PROPOSAL, title="Refill stations elsewhere entirely")
    data = client.get(f"/proposals/similar.json?brand={brand.id}&title=More refill stations")
    titles = [p["title"] for p in data.get_json()["proposals"]]
    assert titles == ["Refill stations for rice and oats"]
    assert client.get("/proposals/similar.json?title=x").status_code == 400


def test_comments_replies_reports_and_hiding(client):
    proposal = make_campaign(CampaignKind.PROPOSAL)
    member = make_user()
    login(client, member.email)
    page = f"/proposals/{proposal.slug}"
    post_form(client, f"{page}/comments", {"body": "**Great** idea <script>x()</script>"}, page=page)
    top = db.session.execute(select(Comment)).scalar_one()
    post_form(client, f"{page}/comments", {"body": "Agreed", "parent_id": str(top.id)}, page=page)
    reply = db.session.execute(select(Comment).filter_by(parent_id=top.id)).scalar_one()
    deep = post_form(
        client,
        f"{page}/comments",
        {"body": "Too deep", "parent_id": str(reply.id)},
        page=page,
        follow_redirects=True,
    )
    assert "Replies go one level deep" in deep.get_data(as_text=True)
    html = client.get(page).get_data(as_text=True)
    assert "<strong>Great</strong>" in html and "<script>x()" not in html and "Agreed" in html
    post_form(client, f"/comments/{top.id}/report", {"reason": "spam"}, page=page)
    post_form(client, f"/comments/{top.id}/report", {"reason": "spam"}, page=page)
    post_form(client, "/logout", {}, page="/account/")
    login(client, make_user(role=Role.MODERATOR).email)
    queue = client.get("/moderation/").get_data(as_text=True)
    assert "reported once" in queue
    post_form(client, f"/moderation/comments/{top.id}/hide", {}, page="/moderation/")
    assert "Great" not in client.get(page).get_data(as_text=True)


def _brand_member(brand):
    member = make_user(name="Sam Lee")
    db.session.add(BrandMember(brand_id=brand.id, user_id=member.id, verified_at=utcnow()))
    db.session.commit()
    return member


def test_status_changes_notify_endorsers_once_and_strangers_are_refused(client, run_jobs, outbox):
    brand = make_brand("Fairfield")
    proposal = make_campaign(CampaignKind.PROPOSAL, brand=brand)
    for n in range(3):
        SupportFactory(campaign=proposal, email=f"p{n}@example.org", consents_to_updates=True)
    run_jobs()
    login(client, make_user().email)
    page = f"/proposals/{proposal.slug}"
    assert (
        post_form(client, f"{page}/status", {"status": "planned", "answer": "x"}, page=page).status_code
        == 403
    )
    post_form(client, "/logout", {}, page="/account/")
    login(client, _brand_member(brand).email)
    post_form(
        client, f"{page}/status", {"status": "planned", "answer": "We will pilot this in spring."}, page=page
    )
    run_jobs()
    run_jobs()
    told = [m for m in outbox() if m["Subject"].startswith("Planned")]
    assert sorted(m["To"] for m in told) == ["p0@example.org", "p1@example.org", "p2@example.org"]
    html = client.get(page).get_data(as_text=True)
    assert "We will pilot this in spring." in html
    roadmap = client.get(f"/brands/{brand.slug}/roadmap").get_data(as_text=True)
    assert 'Planned <span class="muted">(1)</span>' in roadmap


def test_a_duplicate_moves_endorsements_counting_each_person_once(app, run_jobs, outbox):
    brand = make_brand("Fairfield")
    keep = make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Refill stations please")
    dup = make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Bulk refills in store")
    for n in (0, 1, 2):
        SupportFactory(campaign=keep, email=f"p{n}@example.org", consents_to_updates=True)
    for n in (2, 3, 4):  # p2 endorsed both
        SupportFactory(campaign=dup, email=f"p{n}@example.org", consents_to_updates=True)
    run_jobs()
    member = _brand_member(brand)
    with pytest.raises(ServiceError, match="cannot duplicate itself"):
        proposal_service.set_status(dup.id, member, "duplicate", "Same", duplicate_of_id=dup.id)
    closed = make_campaign(CampaignKind.PROPOSAL, brand=brand, state=CampaignState.CLOSED)
    with pytest.raises(ServiceError, match="open proposal"):
        proposal_service.set_status(dup.id, member, "duplicate", "Same", duplicate_of_id=closed.id)
    proposal_service.set_status(
        dup.id, member, "duplicate", "The same idea as refill stations.", duplicate_of_id=keep.id
    )
    for _ in range(3):
        run_jobs()
    db.session.commit()
    keep_rows = db.session.execute(
        select(func.count()).select_from(Support).filter_by(campaign_id=keep.id)
    ).scalar_one()
    assert keep_rows == 5
    db.session.refresh(keep)
    db.session.refresh(dup)
    assert keep.confirmed_count == 5 and dup.confirmed_count == 0
    assert dup.state == CampaignState.CLOSED
    moved = sorted(m["To"] for m in outbox() if m["Subject"].startswith("Your endorsement moved"))
    assert moved == ["p2@example.org", "p3@example.org", "p4@example.org"]
    from campaign.services.counting import recount

    assert recount() == {}


def test_a_moved_endorsement_confirms_the_persons_pending_row_in_its_own_country(app, run_jobs):
    """The person's pending row on the target is the one that now counts: its country is
    counted, not the moved row's, and the recount finds nothing to correct."""
    from campaign.models import CountryCount
    from campaign.services.counting import recount

    brand = make_brand("Fairfield")
    keep = make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Refill stations please")
    dup = make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Bulk refills in store")
    SupportFactory(campaign=keep, email="p@example.org", country="FR", confirm=False)
    SupportFactory(campaign=dup, email="p@example.org", country="GB")
    run_jobs()
    proposal_service.set_status(
        dup.id, _brand_member(brand), "duplicate", "The same idea.", duplicate_of_id=keep.id
    )
    run_jobs()
    db.session.commit()
    countries = dict(
        db.session.execute(
            select(CountryCount.country, CountryCount.count).filter_by(campaign_id=keep.id)
        ).all()
    )
    assert {c: n for c, n in countries.items() if n} == {"FR": 1}
    assert cached_count(keep) == 1 and cached_count(dup) == 0
    assert recount() == {}


# ------------------------------------------------------------------------------ escalation


def test_an_ignored_proposal_escalates_to_a_petition_that_invites_its_supporters(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    proposal = make_campaign(CampaignKind.PROPOSAL, organiser=organiser)
    for n in range(3):
        SupportFactory(campaign=proposal, email=f"p{n}@example.org", consents_to_updates=True)
    run_jobs()
    with pytest.raises(ServiceError, match="deadline"):
        escalate(proposal.id, organiser.id)
    proposal.answer_deadline = utcnow() - timedelta(days=1)
    db.session.commit()
    login(client, organiser.email)
    page = client.get(f"/proposals/{proposal.slug}").get_data(as_text=True)
    assert "Escalate to a petition" in page
    response = post_form(
        client, f"/proposals/{proposal.slug}/escalate", {}, page=f"/proposals/{proposal.slug}"
    )
    assert response.status_code == 302 and "/petitions/" in response.headers["Location"]
    petition = db.session.execute(select(Campaign).filter_by(kind=CampaignKind.PETITION)).scalar_one()
    assert petition.escalated_from_id == proposal.id and petition.state == CampaignState.DRAFT
    with pytest.raises(ServiceError, match="already escalated"):
        escalate(proposal.id, organiser.id)
    # Published: the proposal's supporters are invited, not enrolled.
    from campaign.services.campaigns import approve, submit_for_review

    submit_for_review(petition.id, organiser.id)
    approve(petition.id, make_user(role=Role.MODERATOR).id)
    run_jobs()
    run_jobs()
    invited = sorted(m["To"] for m in outbox() if m["Subject"].startswith("Next step"))
    assert invited == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert db.session.query(Support).filter_by(campaign_id=petition.id).count() == 0
    new_page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "This petition follows" in new_page
    old_page = client.get(f"/proposals/{proposal.slug}").get_data(as_text=True)
    assert "led to" in old_page


def test_only_proposals_and_petitions_escalate(app):
    organiser = make_user()
    boycott = make_campaign(CampaignKind.BOYCOTT, organiser=organiser)
    boycott.answer_deadline = utcnow() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(ServiceError, match="cannot be escalated"):
        escalate(boycott.id, organiser.id)
    SupportFactory(campaign=boycott, consents_to_updates=True)
