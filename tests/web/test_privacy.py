"""A person sees, downloads and erases their data; ended campaigns are anonymised; consent is
stored with each support."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Campaign, CampaignState, Support, User, utcnow
from campaign.services.privacy import anonymise_ended_campaigns
from campaign.tokens import make_token
from tests.factories import SupportFactory, SupportRowFactory, make_campaign, make_user
from tests.helpers import link_in, login, post_form


def test_the_consent_given_is_stored_with_the_support(client):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    post_form(
        client,
        f"{page}/support",
        {"name": "Ada", "email": "ada@example.org", "country": "GB", "consents_to_updates": "y"},
        page=page,
    )
    support = db.session.execute(select(Support)).scalar_one()
    assert petition.title in support.consent_text
    assert "I agree to receive emails" in support.consent_text
    assert "My name is not shown publicly." in support.consent_text  # box left unticked


def test_a_supporter_downloads_and_erases_their_data_by_email(client, run_jobs, outbox):
    petition = make_campaign()
    SupportFactory(campaign=petition, email="p1@example.org", consents_to_updates=True)
    other = make_user("p1@example.org", name="Pat One")
    run_jobs()
    post_form(client, "/privacy/", {"email": "p1@example.org"})
    run_jobs()
    link = link_in(outbox()[-1], "/privacy/")
    page = client.get(link).get_data(as_text=True)
    assert petition.title in page and "Your account" in page
    data = client.get(link + "/data.json").get_json()
    assert data["supports"][0]["email"] == "p1@example.org"
    assert data["account"]["name"] == "Pat One"
    post_form(client, link + "/erase", {}, page=link)
    db.session.commit()
    support = db.session.execute(select(Support)).scalar_one()
    assert support.email.endswith("@erased.invalid") and support.name == "Erased supporter"
    assert support.confirmed_at is not None and support.withdrawn_at is None  # still counts
    assert db.session.get(User, other.id).email.endswith("@erased.invalid")
    assert (
        post_form(
            client, "/login", {"email": "p1@example.org", "password": "correct horse battery"}
        ).status_code
        == 400
    )
    assert client.get("/privacy/forged").status_code == 400


def test_your_data_shows_its_dates_as_the_site_shows_them_and_the_download_keeps_them_exact(client):
    petition = make_campaign()
    member = make_user("p1@example.org", name="Pat One")
    member.created_at = datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC)
    SupportRowFactory(
        campaign=petition, email="p1@example.org", created_at=datetime(2026, 12, 3, 7, 16, 20, tzinfo=UTC)
    )
    db.session.commit()
    link = f"/privacy/{make_token('privacy', {'e': 'p1@example.org'})}"
    for language, member_since, since in (
        ("en", "member since 9 Mar 2025", "3 Dec 2026"),
        ("es", "miembro desde el 9 mar 2025", "3 dic 2026"),
    ):
        html = client.get(link, headers={"Accept-Language": language}).get_data(as_text=True)
        assert f'<html lang="{language}">' in html and petition.title in html
        assert member_since in html, language
        assert f'<time datetime="2026-12-03T07:16:20+00:00">{since}</time>' in html, language
        assert not re.search(r"(?<!\")202\d-\d\d-\d\d", html), language  # no raw date outside the attribute
    data = client.get(f"{link}/data.json").get_json()
    assert data["account"]["created_at"] == "2025-03-09T23:59:59+00:00"
    assert data["supports"][0]["created_at"] == "2026-12-03T07:16:20+00:00"


def test_ended_campaigns_are_anonymised_after_the_set_time_keeping_counts(app, run_jobs):
    ended = make_campaign(state=CampaignState.CLOSED)
    recent = make_campaign(state=CampaignState.CLOSED)
    for campaign, n in ((ended, 1), (recent, 2)):
        campaign.state = CampaignState.OPEN
        db.session.commit()
        SupportFactory(campaign=campaign, email=f"p{n}@example.org", consents_to_updates=True)
        campaign.state = CampaignState.CLOSED
    ended.closed_at = utcnow() - timedelta(days=app.config["ANONYMISE_AFTER_DAYS"] + 1)
    recent.closed_at = utcnow() - timedelta(days=1)
    db.session.commit()
    run_jobs()
    assert anonymise_ended_campaigns() == [ended.id]
    db.session.commit()
    rows = {s.campaign_id: s for s in db.session.execute(select(Support)).scalars()}
    assert rows[ended.id].email.endswith("@erased.invalid") and rows[ended.id].country == "GB"
    assert rows[recent.id].email == "p2@example.org"
    assert db.session.get(Campaign, ended.id).confirmed_count == 1
    assert anonymise_ended_campaigns() == []


def test_anonymisation_runs_on_demand_from_the_command_line(app, runner):
    ended = make_campaign(state=CampaignState.CLOSED)
    ended.closed_at = utcnow() - timedelta(days=app.config["ANONYMISE_AFTER_DAYS"] + 1)
    db.session.commit()
    result = runner.invoke(args=["anonymise"])
    assert result.exit_code == 0, result.output
    assert f"Anonymised the supporters of 1 campaign(s): {ended.id}." in result.output
    db.session.expire_all()
    assert db.session.get(Campaign, ended.id).anonymised_at is not None
    assert "of 0 campaign(s)." in runner.invoke(args=["anonymise"]).output


def test_members_find_the_data_page(client):
    login(client, make_user().email)
    assert "Your data" in client.get("/account/").get_data(as_text=True)
