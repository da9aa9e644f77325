"""Organiser tools: updates by email at most daily, supporters, CSV exports."""

import csv
import io

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Support, Update
from tests.factories import SupportFactory, every_other, make_campaign, make_user
from tests.helpers import login, post_form


def test_updates_are_emailed_to_consenting_supporters_at_most_once_a_day(client, run_jobs, outbox):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser, goal=1000)
    SupportFactory.create_batch(4, campaign=petition, consents_to_updates=every_other())  # 0 and 2 consent
    run_jobs()
    login(client, organiser.email)
    url = f"/petitions/{petition.slug}/updates/new"
    empty = post_form(client, url, {"title": "", "body": ""})
    assert "Give your update a title." in empty.get_data(as_text=True)
    response = post_form(
        client, url, {"title": "We met the CEO", "body": "It went **well**."}, follow_redirects=True
    )
    assert "being emailed" in response.get_data(as_text=True)
    run_jobs()
    run_jobs()
    update_mail = [m for m in outbox() if "We met the CEO" in m["Subject"]]
    assert sorted(m["To"] for m in update_mail) == ["s0@example.org", "s2@example.org"]
    second = post_form(client, url, {"title": "Another one", "body": "Same day."}, follow_redirects=True)
    assert "not emailed" in second.get_data(as_text=True)
    run_jobs()
    assert not [m for m in outbox() if "Another one" in m["Subject"]]
    assert [u.emailed for u in db.session.execute(select(Update).order_by(Update.id)).scalars()] == [
        True,
        False,
    ]
    page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "We met the CEO" in page and "Another one" in page


def test_supporters_page_and_exports(client, run_jobs):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    SupportFactory.create_batch(3, campaign=petition, consents_to_updates=every_other())
    evil = db.session.execute(select(Support).filter_by(email="s0@example.org")).scalar_one()
    evil.name = '=HYPERLINK("http://evil.example")'
    hidden = db.session.execute(select(Support).filter_by(email="s1@example.org")).scalar_one()
    hidden.is_public = False
    db.session.commit()
    run_jobs()

    public = client.get(f"/petitions/{petition.slug}/supporters.csv")
    assert public.status_code == 200 and public.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(public.get_data(as_text=True))))
    assert rows[0] == ["name", "country", "date"]
    names = [r[0] for r in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example")' in names  # neutralised
    assert "Name withheld" in names
    assert "@example.org" not in public.get_data(as_text=True)  # never emails

    assert client.get(f"/petitions/{petition.slug}/contacts.csv").status_code == 302  # log in
    stranger = make_user()
    login(client, stranger.email)
    assert client.get(f"/petitions/{petition.slug}/contacts.csv").status_code == 403
    assert client.get(f"/petitions/{petition.slug}/supporters").status_code == 403
    assert client.get(f"/petitions/{petition.slug}/updates/new").status_code == 403
    post_form(client, "/logout", {}, page="/account/")

    login(client, organiser.email)
    answer = client.get(f"/petitions/{petition.slug}/contacts.csv")
    assert answer.cache_control.no_store and answer.cache_control.private
    contacts = answer.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(contacts)))
    assert rows[0] == ["name", "email", "country", "postcode", "confirmed_at"]
    assert sorted(r[1] for r in rows[1:]) == ["s0@example.org", "s2@example.org"]  # consenting
    page = client.get(f"/petitions/{petition.slug}/supporters").get_data(as_text=True)
    assert "(not shown publicly)" in page and "United Kingdom" in page


def test_member_withdraws_from_the_profile(client, run_jobs):
    user = make_user("ada@example.org")
    login(client, user.email)
    petition = make_campaign()
    post_form(
        client,
        f"/petitions/{petition.slug}/support",
        {"name": "Ada", "email": user.email, "country": "FR"},
        page=f"/petitions/{petition.slug}",
    )
    run_jobs()
    support = db.session.execute(select(Support)).scalar_one()
    other = make_user()
    client2 = client.application.test_client()
    login(client2, other.email)
    assert post_form(client2, f"/supports/{support.id}/withdraw", {}, page="/account/").status_code == 404
    post_form(client, f"/supports/{support.id}/withdraw", {}, page="/account/")
    run_jobs()
    db.session.refresh(petition)
    assert petition.confirmed_count == 0
