"""Signing fraud: suspect supports are stored and thanked like any other and never counted;
allow and block lists; invalidation by condition; the hourly report of heavy signers."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import factory
import pytest
from sqlalchemy import func, select, update

from campaign.clock import tick
from campaign.extensions import db
from campaign.jobs.abuse import run_invalidation_job, signing_report_job
from campaign.jobs.supports import support_token
from campaign.models import (
    AbuseRule,
    Campaign,
    CountryCount,
    Invalidation,
    Milestone,
    Role,
    RuleKind,
    SigningReport,
    Stall,
    Support,
    Suspect,
    utcnow,
)
from campaign.queue import get_queue
from campaign.services import ServiceError, abuse, counting
from campaign.services import stalls as stall_service
from campaign.services import supports as support_service
from tests.factories import SupportFactory, make_campaign, make_user
from tests.helpers import login, post_form

pytestmark = pytest.mark.app_config(RATELIMIT_ENABLED=True)

STALL = "198.51.100.7"


class SignerFactory(SupportFactory):
    """Signer n (signern@example.org), from the stall's address unless told another."""

    name = factory.LazyAttribute(lambda o: f"Signer {o.n}")
    email = factory.LazyAttribute(lambda o: f"signer{o.n}@example.org")
    ip_address = STALL


def count_of(campaign) -> int:
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id).confirmed_count


def moderator(client):
    user = make_user(role=Role.MODERATOR)
    login(client, user.email)
    return user


def page_text(response) -> str:
    """The page without what differs per request: CSRF tokens and signed links."""
    text = re.sub(r'name="csrf_token"[^>]*>', "", response.get_data(as_text=True))
    text = re.sub(r"ref(=|%3D)[\w-]+", "ref=<the supporter's own code>", text)
    return re.sub(r"/supports/\w+/[\w.-]+", "/supports/<token>", text)


# ---------------------------------------------------------------------------- per-IP limit


def test_a_support_over_the_ip_limit_is_stored_thanked_alike_and_never_counted(client, run_jobs, outbox):
    petition = make_campaign()
    page = f"/petitions/{petition.slug}"
    data = {"name": "Ada", "email": "ada@example.org", "country": "GB"}
    first = post_form(client, f"{page}/support", data, page=page)
    second = post_form(client, f"{page}/support", {**data, "email": "bob@example.org"}, page=page)
    assert first.status_code == second.status_code == 303  # no 429: nothing for a bot to see
    thanks_first = page_text(client.get(first.headers["Location"]))
    session_thanks = page_text(client.get(second.headers["Location"]))
    assert session_thanks == thanks_first.replace("ada@example.org", "bob@example.org")
    ada, bob = db.session.execute(select(Support).order_by(Support.id)).scalars()
    assert ada.suspect is None and bob.suspect == Suspect.RATE_LIMIT
    run_jobs()
    # Both get the same confirmation email, and both confirmation pages say the same.
    links = {
        m["To"]: re.search(r"/supports/confirm/\S+", m.get_body(("plain",)).get_content()).group(0)
        for m in outbox()
    }
    assert set(links) == {"ada@example.org", "bob@example.org"}
    pages = [page_text(client.get(links[a])) for a in ("ada@example.org", "bob@example.org")]
    assert "now counts" in pages[1]
    assert pages[0].replace("Ada", "Bob") == pages[1].replace("Ada", "Bob")
    again = client.get(links["bob@example.org"]).get_data(as_text=True)
    assert "Already confirmed" in again
    run_jobs()
    assert count_of(petition) == 1
    assert dict(db.session.execute(select(CountryCount.country, CountryCount.count)).all()) == {"GB": 1}
    db.session.expire_all()
    bob = db.session.get(Support, bob.id)
    assert bob.confirmed_at is None and bob.suspect_confirmed_at is not None
    assert counting.recount() == {}  # the exact recount agrees: suspects do not count
    public = client.get(f"{page}/supporters.csv").get_data(as_text=True)
    assert len(public.strip().splitlines()) == 2  # the header and Ada
    # Another campaign has its own allowance, and another address its own.
    other = make_campaign()
    assert SignerFactory(campaign=other, n=1).suspect is None
    assert SignerFactory(campaign=petition, n=2, ip_address="192.0.2.50").suspect is None


def test_a_person_sending_the_form_again_is_not_held_as_a_second_one(app):
    """A request that failed after the limit recorded it (a 503 while the database failed
    over) is sent again by its person from the same address: still one person, not held."""
    petition = make_campaign()
    assert abuse.suspect_reason(petition.id, STALL, "ada@example.org") is None  # the lost try
    assert SignerFactory(campaign=petition, n=1, email="ada@example.org").suspect is None
    assert SignerFactory(campaign=petition, n=2, email="bob@example.org").suspect == Suspect.RATE_LIMIT


def test_the_sustained_limit_holds_the_sixth_in_five_minutes(app):
    app.config["RATELIMIT_SUPPORT"] = "5 per 5 minutes"
    petition = make_campaign()
    held = [SignerFactory(campaign=petition, n=n).suspect for n in range(7)]
    assert held == [None] * 5 + [Suspect.RATE_LIMIT] * 2
    assert count_of(petition) == 0  # folded later
    counting.fold_counts()
    assert count_of(petition) == 5


def test_suspects_reach_no_milestone_and_no_export(app, client):
    app.config["RATELIMIT_SUPPORT"] = "1 per minute"
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser, goal=5)
    for n in range(12):
        SignerFactory(campaign=petition, n=n)
    counting.fold_counts()
    assert count_of(petition) == 1
    assert db.session.execute(select(func.count()).select_from(Milestone)).scalar_one() == 0
    login(client, organiser.email)
    contacts = client.get(f"/petitions/{petition.slug}/contacts.csv").get_data(as_text=True)
    supporters = client.get(f"/petitions/{petition.slug}/supporters").get_data(as_text=True)
    assert "Signer 0" in supporters and "Signer 5" not in supporters
    rows = list(csv.reader(io.StringIO(contacts)))
    assert all("signer5@" not in ",".join(r) for r in rows)


def test_a_verified_member_over_the_limit_sees_counts_and_is_held(client):
    petition = make_campaign()
    SignerFactory(campaign=petition, n=1, ip_address="127.0.0.1")  # the test client's address
    member = make_user("member@example.org")
    login(client, member.email)
    page = f"/petitions/{petition.slug}"
    response = post_form(
        client, f"{page}/support", {"name": "Member", "email": member.email, "country": "GB"}, page=page
    )
    assert "counts" in client.get(response.headers["Location"]).get_data(as_text=True)
    support = db.session.execute(select(Support).filter_by(email=member.email)).scalar_one()
    assert support.suspect == Suspect.RATE_LIMIT and support.confirmed_at is None
    counting.fold_counts()
    assert count_of(petition) == 1


def test_the_limit_is_off_when_rate_limits_are(app):
    app.config["RATELIMIT_ENABLED"] = False
    petition = make_campaign()
    assert [SignerFactory(campaign=petition, n=n).suspect for n in range(3)] == [None, None, None]


def test_a_withdrawn_suspect_coming_back_stays_held(app):
    petition = make_campaign()
    SignerFactory(campaign=petition, n=1)
    held = SignerFactory(campaign=petition, n=2)
    support_service.withdraw(held.id)
    again = support_service.add_support(
        petition.id, name="Signer 2", email="signer2@example.org", country="GB", ip_address="192.0.2.99"
    )
    assert again.support_id == held.id
    support_service.confirm(support_token("confirm-support", db.session.get(Support, held.id)))
    counting.fold_counts()
    assert count_of(petition) == 1
    assert db.session.get(Support, held.id).suspect == Suspect.RATE_LIMIT


# ---------------------------------------------------------------------------- the lists


def test_blocked_ip_range_domain_and_email_are_held(app):
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("ip", "block", "203.0.113.0/24", "a bot farm", mod.id)
    abuse.add_rule("domain", "block", "@Spam.Example", None, mod.id)
    abuse.add_rule("email", "block", "Troll+x@example.org", None, mod.id)
    petition = make_campaign()
    assert SignerFactory(campaign=petition, n=1, ip_address="203.0.113.200").suspect == Suspect.BLOCKED_IP
    assert (
        SignerFactory(campaign=petition, n=2, ip_address="192.0.2.2", email="x@mail.spam.example").suspect
        == Suspect.BLOCKED_DOMAIN
    )
    assert (
        SignerFactory(campaign=petition, n=3, ip_address="192.0.2.3", email="troll@example.org").suspect
        == Suspect.BLOCKED_EMAIL
    )
    assert SignerFactory(campaign=petition, n=4, ip_address="192.0.2.4").suspect is None
    counting.fold_counts()
    assert count_of(petition) == 1


def test_an_allowed_ip_is_never_held_and_specific_rules_win(app):
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("ip", "allow", STALL, "the stall's shared wifi", mod.id)
    petition = make_campaign()
    assert [SignerFactory(campaign=petition, n=n).suspect for n in range(8)] == [None] * 8
    counting.fold_counts()
    assert count_of(petition) == 8
    # A narrower allow inside a blocked range wins; an email rule beats a domain rule.
    abuse.add_rule("ip", "block", "192.0.2.0/24", None, mod.id)
    abuse.add_rule("ip", "allow", "192.0.2.8/30", None, mod.id)
    abuse.add_rule("domain", "block", "example.net", None, mod.id)
    abuse.add_rule("email", "allow", "good@example.net", None, mod.id)
    assert SignerFactory(campaign=petition, n=20, ip_address="192.0.2.9").suspect is None
    assert SignerFactory(campaign=petition, n=21, ip_address="192.0.2.77").suspect == Suspect.BLOCKED_IP
    assert (
        SignerFactory(campaign=petition, n=22, ip_address="192.0.2.10", email="good@example.net").suspect
        is None
    )
    assert (
        SignerFactory(campaign=petition, n=23, ip_address="192.0.2.11", email="bad@example.net").suspect
        == Suspect.BLOCKED_DOMAIN
    )
    # IPv6 ranges work the same way.
    abuse.add_rule("ip", "block", "2001:db8::/48", None, mod.id)
    assert SignerFactory(campaign=petition, n=24, ip_address="2001:db8::1").suspect == Suspect.BLOCKED_IP


def test_bad_rules_get_a_clear_message_and_change_nothing(app):
    mod = make_user(role=Role.MODERATOR)
    member = make_user()
    for kind, value, message in [
        ("ip", "300.1.2.3", "not an IP address"),
        ("ip", "10.0.0.0/4", "too many people"),
        ("domain", "not a domain", "not an email domain"),
        ("email", "nobody", "not an email address"),
    ]:
        with pytest.raises(ServiceError, match=message):
            abuse.add_rule(kind, "block", value, None, mod.id)
    with pytest.raises(ServiceError, match="Only moderators"):
        abuse.add_rule("ip", "block", "192.0.2.1", None, member.id)
    abuse.add_rule("ip", "block", "192.0.2.1", None, mod.id)
    with pytest.raises(ServiceError, match="already on the block list"):
        abuse.add_rule("ip", "allow", "192.0.2.1/32", None, mod.id)
    assert db.session.execute(select(func.count()).select_from(AbuseRule)).scalar_one() == 1


def test_moderators_manage_the_lists_on_their_page(client):
    moderator(client)
    response = post_form(
        client,
        "/moderation/signing/rules",
        {"kind": "ip", "action": "block", "value": "203.0.113.0/24", "note": "bot farm"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "203.0.113.0/24 is on the block list" in response.get_data(
        as_text=True
    )
    bad = post_form(
        client, "/moderation/signing/rules", {"kind": "ip", "action": "block", "value": "not-an-ip"}
    )
    assert bad.status_code == 400 and "is not an IP address" in bad.get_data(as_text=True)
    rule = db.session.execute(select(AbuseRule)).scalar_one()
    assert rule.value == "203.0.113.0/24" and rule.note == "bot farm"
    gone = post_form(
        client,
        f"/moderation/signing/rules/{rule.id}/delete",
        {},
        page="/moderation/signing/rules",
        follow_redirects=True,
    )
    assert "is off the list" in gone.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(AbuseRule)).scalar_one() == 0


def test_strangers_and_members_are_refused_the_moderator_pages(client):
    urls = ["/moderation/signing", "/moderation/signing/rules", "/moderation/signing/invalidate"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login(client, make_user().email)
    for url in urls:
        assert client.get(url).status_code == 403, url
    response = post_form(
        client,
        "/moderation/signing/rules",
        {"kind": "ip", "action": "allow", "value": "192.0.2.1"},
        page="/account/",
    )
    assert response.status_code == 403
    assert db.session.execute(select(func.count()).select_from(AbuseRule)).scalar_one() == 0


# ---------------------------------------------------------------------------- invalidation


def _farm(app):
    """Six supports from a bot range on two campaigns, and two honest ones."""
    app.config["RATELIMIT_ENABLED"] = False
    a, b = make_campaign(), make_campaign()
    for n in range(4):
        SignerFactory(campaign=a, n=n, ip_address=f"203.0.113.{n + 1}")
    for n in range(4, 6):
        SignerFactory(campaign=b, n=n, ip_address=f"203.0.113.{n + 1}", confirm=n == 4)  # one still pending
    SignerFactory(campaign=a, n=10, ip_address="192.0.2.10")
    SignerFactory(campaign=b, n=11, ip_address="192.0.2.11")
    counting.fold_counts()
    assert (count_of(a), count_of(b)) == (5, 2)
    return a, b


def test_invalidation_previews_then_runs_as_a_job_and_recounts(app, client, run_jobs):
    a, b = _farm(app)
    moderator(client)
    form = {"ip": "203.0.113.0/24"}
    preview = post_form(client, "/moderation/signing/invalidate", {**form, "preview": "Preview"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "<strong>6</strong> supports match" in text and "(on 2 campaigns)" in text
    assert "5 of them count" in text
    assert db.session.execute(select(func.count()).select_from(Invalidation)).scalar_one() == 0
    done = post_form(
        client,
        "/moderation/signing/invalidate",
        {**form, "reason": "a bot farm", "confirm": "Invalidate them"},
        follow_redirects=True,
    )
    assert "Invalidating 6 supports" in done.get_data(as_text=True)
    assert get_queue("bulk").count == 1
    run_jobs()
    assert (count_of(a), count_of(b)) == (1, 1)
    inv = db.session.execute(select(Invalidation)).scalar_one()
    assert inv.finished_at is not None and inv.matched == inv.invalidated == 6
    held = db.session.execute(select(Support).filter_by(invalidation_id=inv.id)).scalars().all()
    assert len(held) == 6 and all(s.suspect == Suspect.INVALIDATED and s.confirmed_at is None for s in held)
    assert sum(s.suspect_confirmed_at is not None for s in held) == 5  # kept, as evidence
    assert counting.recount() == {}
    # The pending one, confirmed later, does not count either.
    pending = next(s for s in held if s.suspect_confirmed_at is None)
    support_service.confirm(support_token("confirm-support", pending))
    counting.fold_counts()
    assert count_of(b) == 1
    # Running the job again changes nothing.
    assert run_invalidation_job(inv.id) == 6
    counting.fold_counts()
    assert (count_of(a), count_of(b)) == (1, 1)
    listing = client.get("/moderation/signing").get_data(as_text=True)
    assert "a bot farm" in listing and "done, recounted" in listing


def test_an_invalidation_cut_short_finishes_on_the_next_run(app):
    a, b = _farm(app)
    mod = make_user(role=Role.MODERATOR)
    inv = abuse.start_decision(abuse.conditions(ip="203.0.113.0/24"), "farm", mod.id)
    assert abuse.decide_batch(inv.id, batch=2) == 2  # then the worker died
    counting.fold_counts()
    assert count_of(a) == 3
    assert run_invalidation_job(inv.id) == 6
    counting.fold_counts()
    assert (count_of(a), count_of(b)) == (1, 1)


def test_an_invalidation_whose_job_was_lost_is_run_by_the_hourly_job(app, run_jobs):
    a, b = _farm(app)
    db.session.execute(update(Support).values(created_at=utcnow() - timedelta(minutes=30)))
    mod = make_user(role=Role.MODERATOR)
    inv = abuse.start_decision(abuse.conditions(ip="203.0.113.0/24"), "farm", mod.id)
    get_queue("bulk").empty()  # Redis lost the job
    run_jobs()
    assert db.session.get(Invalidation, inv.id).finished_at is None
    signing_report_job()  # too recent to call lost: left alone
    assert get_queue("bulk").count == 0
    db.session.execute(update(Invalidation).values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    signing_report_job()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Invalidation, inv.id).finished_at is not None
    assert (count_of(a), count_of(b)) == (1, 1)


def test_invalidation_by_domain_window_and_campaign(app):
    app.config["RATELIMIT_ENABLED"] = False
    mod = make_user(role=Role.MODERATOR)
    a, b = make_campaign(), make_campaign()
    old = SignerFactory(campaign=a, n=1, email="one@mail.fake.example")
    new = SignerFactory(campaign=a, n=2, email="two@fake.example")
    other = SignerFactory(campaign=b, n=3, email="three@fake.example")
    honest = SignerFactory(campaign=a, n=4, email="four@example.org")
    hour_ago = utcnow() - timedelta(hours=1)
    db.session.execute(
        update(Support).where(Support.id == old.id).values(created_at=hour_ago - timedelta(hours=1))
    )
    db.session.commit()
    by_domain = abuse.conditions(campaign_slug=a.slug, domain="fake.example")
    assert abuse.preview(by_domain).matching == 2
    window = abuse.conditions(campaign_slug=a.slug, domain="fake.example", since=hour_ago)
    assert abuse.preview(window).matching == 1
    inv = abuse.start_decision(window, "a burst", mod.id)
    run_invalidation_job(inv.id)
    db.session.expire_all()
    suspects = {s.id: s.suspect for s in db.session.execute(select(Support)).scalars()}
    assert suspects == {old.id: None, new.id: Suspect.INVALIDATED, other.id: None, honest.id: None}
    everywhere = abuse.conditions(domain="fake.example")
    assert abuse.preview(everywhere).matching == 2  # already invalidated ones are left out


def test_bad_invalidations_get_a_clear_message_and_store_nothing(app, client):
    _farm(app)
    moderator(client)
    cases = [
        ({}, "Give at least one condition"),
        ({"ip": "nonsense"}, "is not an IP address"),
        ({"domain": "x y"}, "is not an email domain"),
        ({"campaign": "no-such-campaign", "ip": "192.0.2.1"}, "There is no campaign"),
        ({"since": "2026-11-02T10:00", "until": "2026-11-01T10:00"}, "must start before"),
        ({"since": "yesterday"}, "Not a valid datetime value"),
        ({"ip": "192.0.2.200", "reason": "x", "confirm": "1"}, "No support matches"),
        ({"ip": "203.0.113.0/24", "confirm": "1"}, "Say why"),
    ]
    for data, message in cases:
        response = post_form(
            client,
            "/moderation/signing/invalidate",
            {"preview": "Preview", **data} if "confirm" not in data else data,
        )
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), data
    assert db.session.execute(select(func.count()).select_from(Invalidation)).scalar_one() == 0
    assert (
        db.session.execute(
            select(func.count()).select_from(Support).where(Support.suspect.is_not(None))
        ).scalar_one()
        == 0
    )


# ---------------------------------------------------------------------------- the report


def test_the_hourly_report_lists_heavy_ips_and_domains(app, client, run_jobs):
    app.config.update(RATELIMIT_SUPPORT="1 per minute", ABUSE_REPORT_THRESHOLD=5)
    petition = make_campaign()
    for n in range(6):
        SignerFactory(campaign=petition, n=n, email=f"bot{n}@bots.example")
    for n in range(6, 12):
        SignerFactory(campaign=petition, n=n, ip_address=f"192.0.2.{n}", email=f"p{n}@allowed.example")
    SignerFactory(campaign=petition, n=20, ip_address="192.0.2.99", email="solo@example.org")
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("domain", "allow", "allowed.example", None, mod.id)
    last_hour = abuse.hour_start(utcnow()) - timedelta(hours=1)
    db.session.execute(update(Support).values(created_at=last_hour + timedelta(minutes=30)))
    db.session.commit()
    assert "signing-report" in tick(utcnow().replace(minute=5))  # the clock: the last full hour
    run_jobs()
    lines = {
        (r.kind.value, r.value): (r.supports, r.held)
        for r in db.session.execute(select(SigningReport)).scalars()
    }
    assert lines == {("ip", STALL): (6, 5), ("domain", "bots.example"): (6, 5)}
    assert signing_report_job(last_hour.isoformat()) == 2  # again: the same two lines
    assert db.session.execute(select(func.count()).select_from(SigningReport)).scalar_one() == 2
    moderator(client)
    page = client.get("/moderation/signing").get_data(as_text=True)
    assert "IP 198.51.100.7" in page and "Domain bots.example" in page
    assert f"/moderation/signing/invalidate?campaign={petition.slug}&amp;ip={STALL}" in page
    prefilled = client.get(f"/moderation/signing/invalidate?ip={STALL}").get_data(as_text=True)
    assert f'value="{STALL}"' in prefilled
    assert "2 heavy in 24 h" in client.get("/moderation/").get_data(as_text=True)


def test_the_moderators_pages_show_times_as_the_site_shows_them(app, client, monkeypatch):
    at = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)  # the report and the open stalls are read now
    monkeypatch.setattr(abuse, "utcnow", lambda: at)
    monkeypatch.setattr(stall_service, "utcnow", lambda: at)
    petition = make_campaign()
    mod = moderator(client)
    db.session.add_all(
        [
            Stall(
                campaign_id=petition.id,
                place="Market square",
                volunteer="Vic",
                opens_at=datetime(2026, 12, 3, 7, 16, tzinfo=UTC),
                closes_at=datetime(2026, 12, 3, 19, 0, tzinfo=UTC),
            ),
            Stall(  # open through the night: its end is on the next day
                campaign_id=petition.id,
                place="Night market",
                volunteer="Nia",
                opens_at=datetime(2026, 12, 3, 22, 0, tzinfo=UTC),
                closes_at=datetime(2026, 12, 4, 2, 0, tzinfo=UTC),
            ),
            SigningReport(
                hour=datetime(2026, 12, 3, 7, 0, tzinfo=UTC),
                campaign_id=petition.id,
                kind=RuleKind.DOMAIN,
                value="bots.example",
                supports=40,
                held=38,
            ),
            Invalidation(
                campaign_id=petition.id,
                domain="bots.example",
                since=datetime(2026, 12, 3, 6, 0, tzinfo=UTC),
                until=datetime(2026, 12, 3, 7, 0, tzinfo=UTC),
                reason="A bot",
                created_by_id=mod.id,
                created_at=datetime(2026, 12, 3, 7, 16, 20, tzinfo=UTC),
                finished_at=datetime(2026, 12, 3, 7, 17, tzinfo=UTC),
            ),
        ]
    )
    db.session.commit()

    def time(iso: str, shown: str) -> str:
        return f'<time datetime="2026-12-{iso}+00:00">{shown}</time>'

    for language, month, hours, hour, by, conditions in (
        (
            "en",
            "Dec",
            "Hours (UTC)",
            "Hour (UTC)",
            "UTC by",
            ("from 3 Dec 2026, 06:00", "before 3 Dec 2026, 07:00"),
        ),
        (
            "es",
            "dic",
            "Horario (UTC)",
            "Hora (UTC)",
            "UTC por",
            ("desde 3 dic 2026, 06:00", "antes de 3 dic 2026, 07:00"),
        ),
    ):
        headers = {"Accept-Language": language}
        signing = client.get("/moderation/signing", headers=headers).get_data(as_text=True)
        assert f'<html lang="{language}">' in signing and hours in signing and hour in signing
        # A stall's hours: its end without the day again when it ends on the day it opens.
        assert f"{time('03T07:16:00', f'3 {month} 2026, 07:16')} – {time('03T19:00:00', '19:00')}" in signing
        assert f"{time('03T22:00:00', f'3 {month} 2026, 22:00')} – " in signing
        # On a phone a stacked cell spreads its children apart (app.css): one span keeps the hours whole.
        assert f'data-label="{hours}"><span><time' in signing
        assert time("04T02:00:00", f"4 {month} 2026, 02:00") in signing
        assert time("03T07:00:00", f"3 {month} 2026, 07:00") in signing, language  # the report's hour
        log = client.get("/moderation/signing/log", headers=headers).get_data(as_text=True)
        for page in (signing, log):
            assert f"{time('03T07:16:20', f'3 {month} 2026, 07:16')} {by} Test Member" in page, language
            assert all(condition in page for condition in conditions), language
            assert not re.search(r"2026-12-0\d \d", page), language  # no raw time left


def test_the_clock_enqueues_the_report_once_an_hour(app):
    assert "signing-report" not in tick(datetime(2026, 11, 23, 12, 2, tzinfo=UTC))
    assert "signing-report" in tick(datetime(2026, 11, 23, 12, 5, tzinfo=UTC))
    assert "signing-report" not in tick(datetime(2026, 11, 23, 12, 40, tzinfo=UTC))
    assert "signing-report" in tick(datetime(2026, 11, 23, 13, 7, tzinfo=UTC))


def test_ip_keys_sort_within_their_ranges():
    net = abuse.parse_network("203.0.113.0/24")
    assert net.low <= abuse.ip_key("203.0.113.9") <= net.high
    assert not net.low <= abuse.ip_key("203.0.114.0") <= net.high
    assert abuse.parse_network("203.0.113.9/32").text == "203.0.113.9"
    assert abuse.ip_key("not an ip") is None and abuse.ip_key(None) is None


def test_a_held_member_sees_their_support_as_confirmed_on_their_own_pages(client):
    from campaign.models import CampaignKind

    boycott = make_campaign(CampaignKind.BOYCOTT)
    SignerFactory(campaign=boycott, n=1, ip_address="127.0.0.1")
    member = make_user("member@example.org")
    login(client, member.email)
    page = f"/boycotts/{boycott.slug}"
    post_form(
        client, f"{page}/support", {"name": "Member", "email": member.email, "country": "GB"}, page=page
    )
    held = db.session.execute(select(Support).filter_by(email=member.email)).scalar_one()
    assert held.suspect == Suspect.RATE_LIMIT
    assert "not confirmed yet" not in client.get("/account/").get_data(as_text=True)
    assert boycott.title in client.get("/account/pledges").get_data(as_text=True)
