"""Members choose how often they are emailed; digests gather their notices, once per period."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from campaign.clock import tick
from campaign.extensions import db
from campaign.jobs.digests import enqueue_digests, period_label, send_digest
from campaign.models import Campaign, DigestItem, EmailFrequency, MailReceipt, User
from campaign.services import campaigns as campaign_service
from campaign.services import supports as support_service
from tests.factories import SupportFactory, make_campaign, make_user
from tests.helpers import body_text, login, post_form


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def post_update(campaign, title: str, body: str) -> None:
    # The once-a-day rule of update emails: make the last one a day old.
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(last_update_emailed_at=None))
    db.session.commit()
    campaign_service.post_update(campaign.id, campaign.organiser_id, title, body)


def to(outbox, address: str) -> list:
    return [m for m in outbox() if m["To"] == address]


def pending(user) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(DigestItem)
        .where(DigestItem.user_id == user.id, DigestItem.digest_key.is_(None))
    ).scalar()


# ---------------------------------------------------------------------------- the settings page


def test_a_member_chooses_each_frequency_on_the_settings_page(app, client):
    member = make_user("chooser@example.org")
    assert member.email_frequency == EmailFrequency.DAILY  # the default
    assert client.get("/account/settings").status_code == 302  # a stranger is sent to log in
    login(client, member.email)
    page = client.get("/account/settings").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="daily"', page)
    assert len(re.findall(r"<input checked", page)) == 1
    assert "a daily digest" in client.get("/account/").get_data(as_text=True)
    for choice in ("immediately", "weekly", "never", "daily"):
        response = post_form(client, "/account/settings", {"email_frequency": choice})
        assert response.status_code == 302
        db.session.expire_all()
        assert db.session.get(User, member.id).email_frequency == EmailFrequency(choice)
    saved = client.get("/account/settings").get_data(as_text=True)
    assert "Saved: we will email you a daily digest." in saved


def test_a_bad_choice_or_a_missing_token_changes_nothing(app, client):
    member = make_user("careful@example.org", email_frequency=EmailFrequency.WEEKLY)
    login(client, member.email)
    response = post_form(client, "/account/settings", {"email_frequency": "hourly"})
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    response = post_form(client, "/account/settings", {})
    assert response.status_code == 400
    assert "Choose how often we email you." in response.get_data(as_text=True)
    response = client.post("/account/settings", data={"email_frequency": "never"})  # no CSRF
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, member.id).email_frequency == EmailFrequency.WEEKLY


def test_the_service_refuses_an_unknown_frequency(app):
    import pytest

    from campaign.services import ServiceError
    from campaign.services.accounts import set_email_frequency

    member = make_user()
    with pytest.raises(ServiceError, match="Choose immediately, daily, weekly or never"):
        set_email_frequency(member.id, "hourly")
    assert db.session.get(User, member.id).email_frequency == EmailFrequency.DAILY


# ---------------------------------------------------------------------------- immediately


def test_immediately_is_as_before_with_the_settings_link(app, run_jobs, outbox):
    member = make_user("quick@example.org", email_frequency=EmailFrequency.IMMEDIATELY)
    petition = make_campaign(title="Fair wages in the orchards")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "We met the buyers", "They listened for an hour.")
    run_jobs()
    [message] = to(outbox, member.email)
    assert message["Subject"] == "We met the buyers — Fair wages in the orchards"
    assert message["List-Unsubscribe"].startswith("<http://groundswell.test/supports/unsubscribe/")
    text = body_text(message)
    assert "They listened for an hour." in text
    assert "http://groundswell.test/account/settings" in text
    assert "http://groundswell.test/account/settings" in html_of(message)
    assert pending(member) == 0


# ---------------------------------------------------------------------------- daily digests


def test_a_daily_digest_groups_two_campaigns_newest_first(app, run_jobs, outbox):
    member = make_user("digest@example.org", name="Dana")  # daily: the default
    orchards = make_campaign(title="Fair wages in the orchards")
    rivers = make_campaign(title="Clean rivers near the tannery")
    for campaign in (orchards, rivers):
        SupportFactory(campaign=campaign, member=member, consents_to_updates=True)
        SupportFactory(
            campaign=campaign, email=f"visitor-{campaign.id}@example.org", consents_to_updates=True
        )  # no account
    run_jobs()
    before = len(outbox())
    post_update(orchards, "First orchard news", "The **first** update.")
    run_jobs()
    post_update(rivers, "River news", "Samples were taken upstream.")
    run_jobs()
    post_update(orchards, "Second orchard news", "The buyers signed.")
    run_jobs()
    # Visitors without an account got each update at once; the member got nothing yet.
    assert len(outbox()) == before + 3
    assert to(outbox, member.email) == []
    assert pending(member) == 3

    assert enqueue_digests("daily") == 1
    run_jobs()
    [digest] = to(outbox, member.email)
    assert digest["Subject"] == "Your daily digest: news from 2 campaigns"
    assert digest["List-Unsubscribe"].startswith("<http://groundswell.test/account/unsubscribe/")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = body_text(digest)
    order = [
        text.index(s)
        for s in (
            "== Fair wages in the orchards ==",
            "Second orchard news",
            "First orchard news",
            "== Clean rivers near the tannery ==",
            "River news",
        )
    ]
    assert order == sorted(order)  # by campaign, newest news first
    assert "The buyers signed." in text and "Samples were taken upstream." in text  # the content
    assert "3 pieces of news from 2 campaigns" in text
    assert text.count("Stop emails about this campaign: http://groundswell.test/supports/unsubscribe/") == 2
    assert "chose a daily digest" in text and "/account/settings" in text
    html = html_of(digest)
    assert "<strong>first</strong>" in html  # Markdown rendered in the HTML part
    assert html.index("Second orchard news") < html.index("First orchard news") < html.index("River news")
    assert pending(member) == 0


def test_a_digest_is_never_sent_empty(app, run_jobs, outbox):
    member = make_user("empty@example.org")
    petition = make_campaign()
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    assert enqueue_digests("daily") == 0  # nothing held: no job at all
    assert send_digest(member.id, "daily", "daily-2026-12-01") is False
    # Held news that can no longer be told (the member stopped this campaign's emails).
    post_update(petition, "News", "Body.")
    run_jobs()
    assert pending(member) == 1
    from campaign.models import Support

    only = db.session.execute(select(Support).filter_by(user_id=member.id)).scalar_one()
    support_service.unsubscribe(only.id)
    assert enqueue_digests("daily") == 1
    run_jobs()
    assert to(outbox, member.email) == []
    assert pending(member) == 0  # dropped, not waiting for ever


def test_a_digest_run_twice_sends_one_email(app, run_jobs, outbox):
    member = make_user("twice@example.org")
    petition = make_campaign(title="Repairable phones")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Spare parts", "They will sell them.")
    run_jobs()
    label = period_label("daily", datetime.now(UTC))
    assert send_digest(member.id, "daily", label) is True
    assert send_digest(member.id, "daily", label) is False  # directly again
    assert enqueue_digests("daily") == 0  # nothing pending any more
    from campaign.queue import get_queue

    get_queue("bulk").enqueue(send_digest, member.id, "daily", label)  # through the queue
    run_jobs()
    assert len(to(outbox, member.email)) == 1
    # News that arrives after today's digest waits for tomorrow's.
    post_update(petition, "Prices", "Fair ones.")
    run_jobs()
    assert send_digest(member.id, "daily", label) is False
    assert pending(member) == 1
    tomorrow = period_label("daily", datetime.now(UTC) + timedelta(days=1))
    assert send_digest(member.id, "daily", tomorrow) is True
    [_, second] = to(outbox, member.email)
    assert "Fair ones." in body_text(second) and "They will sell them." not in body_text(second)
    assert (
        db.session.execute(
            select(func.count()).select_from(MailReceipt).where(MailReceipt.key.like(f"digest:{member.id}:%"))
        ).scalar()
        == 2
    )


def test_organisers_milestones_go_into_their_digest(app, run_jobs, outbox):
    organiser = make_user("organiser-digest@example.org")
    petition = make_campaign(organiser=organiser, goal=500, title="Living wage for cleaners")
    SupportFactory.create_batch(10, campaign=petition)
    run_jobs()
    run_jobs()
    assert to(outbox, organiser.email) == []
    enqueue_digests("daily")
    run_jobs()
    [digest] = to(outbox, organiser.email)
    assert digest["Subject"] == "Your daily digest: Living wage for cleaners"
    text = body_text(digest)
    assert "You organise this petition" in text and "* 10 signatures" in text


# ---------------------------------------------------------------------------- weekly and never


def test_a_weekly_digest_comes_with_the_weekly_run_only(app, run_jobs, outbox):
    member = make_user("weekly@example.org", email_frequency=EmailFrequency.WEEKLY)
    petition = make_campaign(title="Less packaging")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Boxes", "Smaller ones from March.")
    run_jobs()
    assert enqueue_digests("daily") == 0
    run_jobs()
    assert to(outbox, member.email) == []
    assert enqueue_digests("weekly") == 1
    run_jobs()
    [digest] = to(outbox, member.email)
    assert digest["Subject"] == "Your weekly digest: Less packaging"
    assert "Smaller ones from March." in body_text(digest)
    assert "chose a weekly digest" in body_text(digest)
    receipt = db.session.execute(select(MailReceipt.key).where(MailReceipt.key.like("digest:%"))).scalar_one()
    assert receipt == f"digest:{member.id}:{period_label('weekly', datetime.now(UTC))}"
    assert period_label("weekly", datetime(2026, 12, 1, tzinfo=UTC)) == "weekly-2026-W49"


def test_a_missed_weekly_run_is_caught_up_by_the_next_daily_run(app, run_jobs, outbox):
    from campaign.jobs.digests import daily_digests_job

    member = make_user("caught-up@example.org", email_frequency=EmailFrequency.WEEKLY)
    petition = make_campaign(title="Fewer flights")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Trains", "Night trains instead.")
    run_jobs()
    assert daily_digests_job() == 0  # a week's news is not overdue yet
    db.session.execute(
        update(DigestItem).values(created_at=datetime.now(UTC) - timedelta(days=9))
    )  # its Monday run never happened
    db.session.commit()
    assert daily_digests_job() == 1
    run_jobs()
    [digest] = to(outbox, member.email)
    assert digest["Subject"] == "Your weekly digest: Fewer flights"


def test_never_sends_no_news_and_drops_what_was_waiting(app, client, run_jobs, outbox):
    member = make_user("never@example.org")
    petition = make_campaign()
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Held", "For the digest.")
    run_jobs()
    assert pending(member) == 1
    login(client, member.email)
    post_form(client, "/account/settings", {"email_frequency": "never"})
    assert pending(member) == 0
    post_update(petition, "Not held", "Nobody hears this.")
    run_jobs()
    assert db.session.execute(select(func.count()).select_from(DigestItem)).scalar() == 0
    enqueue_digests("daily")
    enqueue_digests("weekly")
    run_jobs()
    assert to(outbox, member.email) == []


def test_the_digest_one_click_unsubscribe_stops_all_news(app, client, run_jobs, outbox):
    member = make_user("oneclick@example.org")
    petition = make_campaign()
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "News", "Body.")
    run_jobs()
    enqueue_digests("daily")
    run_jobs()
    [digest] = to(outbox, member.email)
    url = digest["List-Unsubscribe"].strip("<>").replace("http://groundswell.test", "")
    assert "Stop all news by email?" in client.get(url).get_data(as_text=True)
    assert client.post(url[:-3] + "xyz").status_code == 400  # a forged token changes nothing
    db.session.expire_all()
    assert db.session.get(User, member.id).email_frequency == EmailFrequency.DAILY
    response = client.post(url)  # a mail client's one-click: no CSRF token
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, member.id).email_frequency == EmailFrequency.NEVER


def test_the_clock_runs_daily_digests_daily_and_weekly_ones_on_mondays(app, run_jobs, outbox):
    member = make_user("clocked@example.org", email_frequency=EmailFrequency.WEEKLY)
    petition = make_campaign(title="Bottle deposits")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Deposits", "From next year.")
    run_jobs()
    monday, tuesday = (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 7, 0, tzinfo=UTC))
    assert {"daily-digests", "weekly-digests"} <= set(tick(monday))
    run_jobs()  # the clock's jobs, then the digest they enqueue, in a real worker
    run_jobs()
    assert [m["Subject"] for m in to(outbox, member.email)] == ["Your weekly digest: Bottle deposits"]
    assert "daily-digests" not in tick(monday.replace(minute=30))  # once in its hour
    assert "daily-digests" in tick(tuesday) and "weekly-digests" not in tick(tuesday)


def test_news_held_before_choosing_immediately_comes_with_the_next_daily_run(app, client, run_jobs, outbox):
    member = make_user("changed@example.org")
    petition = make_campaign(title="Open supply chains")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Held", "Before the change.")
    run_jobs()
    login(client, member.email)
    post_form(client, "/account/settings", {"email_frequency": "immediately"})
    assert pending(member) == 1  # kept, not lost
    post_update(petition, "At once", "After the change.")
    run_jobs()
    assert [m["Subject"] for m in to(outbox, member.email)] == ["At once — Open supply chains"]
    assert enqueue_digests("weekly") == 0
    assert enqueue_digests("daily") == 1
    run_jobs()
    assert "Before the change." in body_text(to(outbox, member.email)[-1])
    assert pending(member) == 0


# ---------------------------------------------------------------------------- emails


def test_a_digest_goes_through_a_real_smtp_server_in_text_and_html(app, smtp_server, run_jobs):
    from email import message_from_bytes
    from email.policy import default

    controller, handler = smtp_server
    member = make_user("smtp-digest@example.org")
    petition = make_campaign(title="Seasonal workers' housing")
    SupportFactory(campaign=petition, member=member, consents_to_updates=True)
    run_jobs()
    post_update(petition, "Inspections", "Every site, every **month**.")
    run_jobs()
    app.config["MAIL_URL"] = f"smtp://{controller.hostname}:{controller.port}"
    enqueue_digests("daily")
    run_jobs()
    [envelope] = [e for e in handler.envelopes if e.rcpt_tos == [member.email]]
    message = message_from_bytes(envelope.content, policy=default)
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Every site, every **month**." in body_text(message)
    assert "Every site, every <strong>month</strong>." in html_of(message)


def test_every_email_has_text_and_html_that_say_why_it_was_sent():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "templates" / "email"
    names = {p.stem for p in folder.iterdir() if not p.name.startswith("_")}
    assert {"digest", "update_supporter", "milestone_organiser", "delivery"} <= names
    for name in sorted(names):
        text = (folder / f"{name}.txt").read_text()
        html = (folder / f"{name}.html").read_text()
        assert "You get this" in text and "You get this" in html, name
        assert '{% extends "email/_layout.html" %}' in html, name
        # A notice that can be stopped says how, in both parts.
        if "unsubscribe_url" in html:
            assert "unsubscribe_url" in text, name


def test_every_kind_of_news_is_told_in_both_parts_of_a_digest(app):
    """Each topic a member may have held, rendered with its content (not just a link)."""
    from campaign.jobs.digests import hold_for_digest
    from campaign.models import (
        CampaignKind,
        Milestone,
        ProposalStatus,
        Response,
        StatusChange,
        Support,
        Update,
    )
    from campaign.services import supports as service

    member = make_user("all-news@example.org")
    petition = make_campaign(title="Fair cocoa prices")
    proposal = make_campaign(CampaignKind.PROPOSAL, title="Refill stations in every shop")
    same_idea = make_campaign(
        CampaignKind.PROPOSAL, brand=proposal.target_brand, title="Refills for everything"
    )
    boycott = make_campaign(CampaignKind.BOYCOTT, title="No more palm oil")
    mine = make_campaign(organiser=member, goal=500, title="Safer cycle lanes")
    for campaign in (petition, proposal):
        SupportFactory(campaign=campaign, member=member, consents_to_updates=True)
    service.add_support(
        boycott.id,
        name=member.name,
        email=member.email,
        country="GB",
        user_id=member.id,
        condition_threshold=50,
    )
    next_step = make_campaign(
        CampaignKind.BOYCOTT, brand=petition.target_brand, title="Boycott until fair cocoa prices"
    )
    next_step.escalated_from_id = petition.id
    petition.victory_story = "The brand **doubled** the price it pays."
    update = Update(
        campaign_id=petition.id,
        author_id=petition.organiser_id,
        title="Halfway",
        body="Five thousand signatures.",
        emailed=True,
    )
    goal = Milestone(campaign_id=petition.id, threshold=100, is_goal=True)
    organiser_milestone = Milestone(campaign_id=mine.id, threshold=10)
    answer = Response(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        author_name="Ana Ruiz",
        stance="committed",
        body="We will pay more.",
        commitment="Pay 20% more",
        digest="every-topic",
    )
    status = StatusChange(
        campaign_id=proposal.id,
        status=ProposalStatus.PLANNED,
        answer="Pilots start in May.",
        author_name="Ana Ruiz",
    )
    moved = StatusChange(
        campaign_id=proposal.id,
        status=ProposalStatus.DUPLICATE,
        answer="One idea, one list.",
        author_name="Ana Ruiz",
        duplicate_of_id=same_idea.id,
    )
    db.session.add_all([update, goal, organiser_milestone, answer, status, moved])
    db.session.commit()
    supports = {
        s.campaign_id: s for s in db.session.execute(select(Support).filter_by(user_id=member.id)).scalars()
    }
    supports[boycott.id].condition_met_at = supports[boycott.id].confirmed_at
    for topic, object_id, campaign in (
        ("update", update.id, petition),
        ("goal", goal.id, petition),
        ("answer", answer.id, petition),
        ("victory", petition.id, petition),
        ("invite", next_step.id, petition),
        ("status", status.id, proposal),
        ("moved", moved.id, proposal),
        ("condition-met", supports[boycott.id].id, boycott),
    ):
        assert hold_for_digest(
            member, f"{topic}:{object_id}:x", topic, object_id, campaign.id, supports[campaign.id].id
        )
    hold_for_digest(member, "milestone:x", "milestone", organiser_milestone.id, mine.id)
    db.session.commit()
    assert send_digest(member.id, "daily", "daily-2026-12-01") is True
    from campaign.mail import outbox_folder
    from tests.helpers import read_outbox

    [digest] = read_outbox(outbox_folder())
    assert digest["Subject"] == "Your daily digest: news from 4 campaigns"
    text, html = body_text(digest), html_of(digest)
    for told in (
        "Update: Halfway",
        "Five thousand signatures.",
        "We reached the goal",
        "answered: Committed",
        "We will pay more.",
        "Pay 20% more",
        "Does it meet the demand?",
        "We won",
        "The brand **doubled**",
        'Next step: a boycott, "Boycott until fair cocoa prices"',
        "set the status to: Planned",
        "Pilots start in May.",
        'Your endorsement moved to "Refills for everything"',
        "One idea, one list.",
        "It's on: 50 people pledged",
        "* 10 signatures",
        "You organise this petition",
    ):
        assert told in text, told
    for told in (
        "Update: Halfway",
        "The brand <strong>doubled</strong>",
        "Pilots start in May.",
        "Your endorsement moved to “Refills for everything”",
        "It’s on: 50 people pledged",
        "/responses/",
    ):
        assert told in html, told
