"""Nobody silently lost: held supports seen and released, stalls, fraud spread thin across
campaigns, the per-IP limit on IPv6 /64s."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from campaign.extensions import db
from campaign.jobs.abuse import run_invalidation_job
from campaign.jobs.supports import support_token
from campaign.models import (
    Campaign,
    DecisionAction,
    Invalidation,
    Role,
    SigningReport,
    Stall,
    Support,
    Suspect,
    utcnow,
)
from campaign.services import ServiceError, abuse, counting
from campaign.services import stalls as stall_service
from campaign.services import supports as support_service
from tests.factories import SupportFactory, SupportRowFactory, make_campaign, make_user
from tests.helpers import login, post_form

pytestmark = pytest.mark.app_config(RATELIMIT_ENABLED=True)

NETWORK = "198.51.100.7"  # one network shared by everyone signing together


class Clock:
    """The instant the signing limits read, moved on by hand (people sign one after another)."""

    def __init__(self, monkeypatch):
        self.now = utcnow()
        monkeypatch.setattr(abuse, "utcnow", lambda: self.now)

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sign(
    campaign,
    n: int,
    ip: str = NETWORK,
    stall: Stall | None = None,
    confirm: bool = True,
    email: str | None = None,
) -> Support:
    """Person ``n`` signs from ``ip`` (at ``stall`` if given), then opens the link in their email."""
    return SupportFactory(
        campaign=campaign,
        stall=stall,
        name=f"Person {n}",
        email=email or f"person{n}@example.org",
        ip_address=ip,
        confirm=confirm,
    )


def count_of(campaign) -> int:
    counting.fold_counts()
    db.session.expire_all()
    return db.session.get(Campaign, campaign.id).confirmed_count


def open_stall(campaign, hours: int = 4, **kwargs) -> Stall:
    return stall_service.open_stall(
        campaign.id,
        campaign.organiser_id,
        place="Market square",
        volunteer="Vic Volunteer",
        opens_at=kwargs.get("opens_at"),
        hours=hours,
    )


def moderator(client):
    user = make_user(role=Role.MODERATOR, name="Mo Moderator")
    login(client, user.email)
    return user


# ---------------------------------------------------------------------------- the cases


def test_thirty_people_at_a_stall_on_one_network_all_count_once_confirmed(app, monkeypatch):
    clock = Clock(monkeypatch)
    petition = make_campaign()
    stall = open_stall(petition)
    signed = []
    for n in range(30):
        signed.append(sign(petition, n, stall=stall))
        clock.wait(12)  # the next person steps up
    assert [s.suspect for s in signed] == [None] * 30
    assert {s.stall_id for s in signed} == {stall.id}
    assert count_of(petition) == 30
    assert counting.recount() == {}
    # The same network signing without the stall's link is still limited.
    assert [sign(petition, n).suspect for n in (98, 99)] == [None, Suspect.RATE_LIMIT]


def test_thirty_without_a_stall_are_held_seen_grouped_released_in_bulk_and_all_count(app, client, run_jobs):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    signed = [sign(petition, n) for n in range(30)]
    assert [s.suspect for s in signed] == [None] + [Suspect.RATE_LIMIT] * 29
    assert count_of(petition) == 1

    login(client, organiser.email)
    page = client.get(f"/petitions/{petition.slug}/supporters").get_data(as_text=True)
    assert "29 held for review" in page
    post_form(client, "/logout", {}, page="/account/")

    mod = moderator(client)
    held = client.get(f"/moderation/signing/held?campaign={petition.slug}")
    text = held.get_data(as_text=True)
    assert held.status_code == 200
    assert "29 supports held for review" in text and "29 of them confirmed by email" in text
    rows = re.sub(r"<(t[rd])\b[^>]*>", r"<\1>", text)  # the rows without their roles and labels
    groups = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td>", rows)
    assert ("over the per-IP limit", "29", "29") in groups
    assert ("198.51.100.0/24", "29", "29") in groups
    assert ("example.org", "29", "29") in groups
    assert "Person 29" in text and "Person 0<" not in text  # the sample: held ones only
    everywhere = client.get("/moderation/signing/held").get_data(as_text=True)
    assert petition.title in everywhere  # grouped by campaign too

    form = {"campaign": petition.slug, "held_reason": "rate_limit", "ip": "198.51.100.0/24"}
    preview = post_form(client, "/moderation/signing/release", {**form, "preview": "Preview"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "29 held supports match" in text and "29 of them were confirmed by email" in text
    assert db.session.execute(select(func.count()).select_from(Invalidation)).scalar_one() == 0
    done = post_form(
        client,
        "/moderation/signing/release",
        {**form, "reason": "a school assembly signing together", "confirm": "Release them"},
        follow_redirects=True,
    )
    assert "Releasing 29 supports" in done.get_data(as_text=True)
    run_jobs()
    assert count_of(petition) == 30
    assert counting.recount() == {}
    db.session.expire_all()
    assert all(
        s.suspect is None and s.confirmed_at is not None
        for s in db.session.execute(select(Support)).scalars()
    )
    row = db.session.execute(select(Invalidation)).scalar_one()
    assert (row.action, row.created_by_id, row.reason, row.held_reason, row.matched, row.invalidated) == (
        DecisionAction.RELEASE,
        mod.id,
        "a school assembly signing together",
        "rate_limit",
        29,
        29,
    )
    assert row.finished_at is not None and row.campaign_id == petition.id
    log = client.get("/moderation/signing/log").get_data(as_text=True)
    assert "Release" in log and "a school assembly signing together" in log
    assert "held as: over the per-IP limit" in log and "done, recounted" in log

    # Releasing twice changes nothing: nothing is held any more, and the job is idempotent.
    again = post_form(
        client, "/moderation/signing/release", {**form, "reason": "again", "confirm": "Release them"}
    )
    assert again.status_code == 400 and "nothing to release" in again.get_data(as_text=True)
    assert run_invalidation_job(row.id) == 29
    assert count_of(petition) == 30
    post_form(client, "/logout", {}, page="/account/")
    login(client, organiser.email)
    assert "held for review" not in client.get(f"/petitions/{petition.slug}/supporters").get_data(
        as_text=True
    )


def test_a_stall_past_its_limit_holds_the_excess(app, monkeypatch):
    clock = Clock(monkeypatch)
    petition = make_campaign()
    stall = open_stall(petition)
    first, second = sign(petition, 1, stall=stall), sign(petition, 2, stall=stall)
    clock.wait(3)
    third = sign(petition, 3, stall=stall, ip="192.0.2.3")  # another device, the same stall
    clock.wait(11)
    fourth = sign(petition, 4, stall=stall)
    assert [s.suspect for s in (first, second, third, fourth)] == [
        None,
        Suspect.STALL_LIMIT,
        Suspect.STALL_LIMIT,
        None,
    ]
    assert count_of(petition) == 2
    # Block rules still hold at a stall.
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("domain", "block", "bots.example", None, mod.id)
    clock.wait(11)
    assert sign(petition, 5, stall=stall, email="x@bots.example").suspect == Suspect.BLOCKED_DOMAIN
    # The moderator releases the stall's held ones that are over its limit, not the blocked.
    inv = abuse.start_decision(
        abuse.conditions(stall=str(stall.id), held_reason="stall_limit", action="release"),
        "two tablets",
        mod.id,
    )
    assert run_invalidation_job(inv.id) == 2
    assert count_of(petition) == 4


def test_a_spread_thin_bot_across_twenty_campaigns_is_in_the_hourly_report(app, client):
    app.config.update(RATELIMIT_ENABLED=False)
    campaigns = [make_campaign() for _ in range(20)]
    for n, campaign in enumerate(campaigns):
        sign(campaign, n, ip="203.0.113.66", email=f"bot{n}@bots.example", confirm=False)
        # A second bot rotates its addresses within one /24, on other domains.
        sign(campaign, 100 + n, ip=f"192.0.2.{n + 1}", email=f"r{n}@rotating{n}.example", confirm=False)
    for n, campaign in enumerate(campaigns[:3]):  # honest people: a few campaigns
        sign(campaign, 200 + n, ip="198.51.100.200", email=f"h{n}@honest.example")
    last_hour = abuse.hour_start(utcnow()) - timedelta(hours=1)
    db.session.execute(update(Support).values(created_at=last_hour + timedelta(minutes=20)))
    db.session.commit()
    abuse.report_hour(last_hour)
    lines = {
        (r.kind.value, r.value): (r.campaigns, r.supports)
        for r in db.session.execute(select(SigningReport)).scalars()
    }
    assert lines == {
        ("ip", "203.0.113.66"): (20, 20),
        ("domain", "bots.example"): (20, 20),
        ("ip", "192.0.2.0/24"): (20, 20),
    }
    assert all(r.campaign_id is None for r in db.session.execute(select(SigningReport)).scalars())
    moderator(client)
    page = client.get("/moderation/signing").get_data(as_text=True)
    assert "20 campaigns" in page and "IP 192.0.2.0/24" in page
    assert "/moderation/signing/invalidate?ip=192.0.2.0/24" in page
    # An allow-listed domain is left out.
    mod = make_user(role=Role.MODERATOR)
    abuse.add_rule("domain", "allow", "bots.example", None, mod.id)
    assert abuse.report_hour(last_hour) == 2


def test_held_supports_show_when_they_were_signed_as_the_site_shows_times(app, client):
    petition = make_campaign()
    SupportRowFactory(
        campaign=petition,
        held=True,
        name="Held Person",
        created_at=datetime(2026, 12, 3, 7, 16, 20, tzinfo=UTC),
    )
    moderator(client)
    # To the second: signatures a second apart, a burst from one address, look apart.
    for language, shown, header in (
        ("en", "3 Dec 2026, 07:16:20", "Signed (UTC)"),
        ("es", "3 dic 2026, 07:16:20", "Firmado (UTC)"),
    ):
        html = client.get("/moderation/signing/held", headers={"Accept-Language": language}).get_data(
            as_text=True
        )
        assert f'<html lang="{language}">' in html and "Held Person" in html
        assert f'<time datetime="2026-12-03T07:16:20+00:00">{shown}</time>' in html, language
        assert header in html and "2026-12-03 07:16" not in html, language


# ---------------------------------------------------------------------------- release details


def test_release_counts_a_support_once_it_is_or_was_confirmed_by_email(app):
    petition = make_campaign()
    mod = make_user(role=Role.MODERATOR)
    sign(petition, 0)
    confirmed = sign(petition, 1)
    pending = sign(petition, 2, confirm=False)
    withdrawn = sign(petition, 3)
    support_service.withdraw(withdrawn.id)
    assert count_of(petition) == 1
    found = abuse.preview(abuse.conditions(campaign_slug=petition.slug, ip=NETWORK, action="release"))
    assert (found.matching, found.counted) == (2, 1)  # the withdrawn one is left as it is
    inv = abuse.start_decision(
        abuse.conditions(campaign_slug=petition.slug, ip=NETWORK, action="release"), "friends", mod.id
    )
    run_invalidation_job(inv.id)
    assert count_of(petition) == 2
    db.session.expire_all()
    assert db.session.get(Support, pending.id).confirmed_at is None
    support_service.confirm(support_token("confirm-support", db.session.get(Support, pending.id)))
    assert count_of(petition) == 3
    assert db.session.get(Support, withdrawn.id).suspect == Suspect.RATE_LIMIT
    assert db.session.get(Support, confirmed.id).invalidation_id == inv.id
    assert counting.recount() == {}


def test_one_support_is_released_alone_and_an_invalidation_only_when_meant(app, client, run_jobs):
    app.config.update(RATELIMIT_ENABLED=False)
    petition = make_campaign()
    mod = make_user(role=Role.MODERATOR)
    ones = [sign(petition, n, ip=f"203.0.113.{n + 1}") for n in range(3)]
    inv = abuse.start_decision(abuse.conditions(ip="203.0.113.0/24"), "a farm", mod.id)
    run_invalidation_job(inv.id)
    assert count_of(petition) == 0
    # Invalidated supports are not "held for review": a plain release leaves them.
    with pytest.raises(ServiceError, match="nothing to release"):
        abuse.start_decision(abuse.conditions(ip="203.0.113.0/24", action="release"), "x", mod.id)
    moderator(client)
    page = f"/moderation/signing/release?support={ones[1].id}&held_reason=invalidated"
    assert f'value="{ones[1].id}"' in client.get(page).get_data(as_text=True)
    done = post_form(
        client,
        "/moderation/signing/release",
        {
            "support": str(ones[1].id),
            "held_reason": "invalidated",
            "reason": "a real person: wrote to us",
            "confirm": "Release them",
        },
        follow_redirects=True,
    )
    assert "Releasing 1 support;" in done.get_data(as_text=True)
    run_jobs()
    assert count_of(petition) == 1
    db.session.expire_all()
    assert [db.session.get(Support, s.id).suspect for s in ones] == [
        Suspect.INVALIDATED,
        None,
        Suspect.INVALIDATED,
    ]
    log = client.get("/moderation/signing/log").get_data(as_text=True)
    assert "Invalidation" in log and f"support {ones[1].id}" in log


def test_bad_releases_get_a_clear_message_and_change_nothing(app, client):
    petition = make_campaign()
    sign(petition, 0)
    sign(petition, 1)
    moderator(client)
    cases = [
        ({}, "Give at least one condition"),
        ({"held_reason": "nonsense"}, "Not a valid choice"),
        ({"stall": "12"}, "There is no stall number 12"),
        ({"support": "x1"}, "There is no support number x1"),
        ({"ip": "198.51.100.7", "confirm": "1"}, "Say why"),
        ({"domain": "nobody.example", "reason": "x", "confirm": "1"}, "nothing to release"),
    ]
    for data, message in cases:
        response = post_form(
            client,
            "/moderation/signing/release",
            {"preview": "Preview", **data} if "confirm" not in data else data,
        )
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), data
    assert db.session.execute(select(func.count()).select_from(Invalidation)).scalar_one() == 0
    with pytest.raises(ServiceError, match="reasons supports are held"):
        abuse.conditions(ip=NETWORK, held_reason="rate_limit")  # an invalidation takes none


# ---------------------------------------------------------------------------- stalls


def test_an_organiser_opens_a_stall_gets_its_link_and_qr_code_and_closes_it(app, client):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    login(client, organiser.email)
    url = f"/petitions/{petition.slug}/stalls"
    assert "Stalls" in client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    bad = post_form(client, url, {"place": "", "volunteer": "Vic", "hours": "20"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Say where the stall is" in text and "1 to 12 hours" in text
    past = post_form(
        client, url, {"place": "Market", "volunteer": "Vic", "hours": "2", "opens_at": "2020-01-01T10:00"}
    )
    assert past.status_code == 400 and "already be over" in past.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(Stall)).scalar_one() == 0
    opened = post_form(
        client,
        url,
        {"place": "Saturday market", "volunteer": "Vic Volunteer", "hours": "3"},
        follow_redirects=True,
    )
    text = opened.get_data(as_text=True)
    stall = db.session.execute(select(Stall)).scalar_one()
    assert "The stall is open" in text and "Saturday market" in text and "Open now." in text
    assert f"/supports/stall/{stall.token}" in text
    assert 'src="data:image/svg+xml' in text and "QR code of the stall" in text
    assert stall.closes_at - stall.opens_at == timedelta(hours=3)
    closed = post_form(client, f"{url}/{stall.id}/close", {}, page=url, follow_redirects=True)
    assert "The stall is closed" in closed.get_data(as_text=True)
    assert client.get(f"/supports/stall/{stall.token}").status_code == 410
    with pytest.raises(ServiceError, match="not open now"):
        sign(petition, 1, stall=db.session.get(Stall, stall.id))


def test_the_shared_device_page_keeps_no_trace_of_the_last_signer(app, client):
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    petition = make_campaign(organiser=organiser)
    stall = open_stall(petition)
    login(client, organiser.email)  # the volunteer's own account is logged in on the tablet
    url = f"/supports/stall/{stall.token}"
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert organiser.email not in text
    # Every field a person types in tells the browser to remember nothing (the campaign's own
    # page, on a person's own device, asks it to fill them in).
    typed = re.findall(r"<(?:input|select|textarea)(?![^>]*type=\"(?:hidden|checkbox|submit)\")[^>]*>", text)
    assert len(typed) >= 5 and all('autocomplete="off"' in tag for tag in typed), typed
    own_page = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'autocomplete="email"' in own_page and 'autocomplete="postal-code"' in own_page
    assert 'value="Olu Organiser"' not in text
    bad = post_form(client, url, {"name": "Ada Lovelace", "email": "not-an-email", "country": "GB"})
    assert bad.status_code == 400 and "Enter an email address" in bad.get_data(as_text=True)
    done = post_form(
        client,
        url,
        {"name": "Ada Lovelace", "email": "ada@example.org", "country": "GB", "comment": "For my children"},
    )
    assert done.status_code == 303 and done.headers["Location"] == url
    after = client.get(url)
    text = after.get_data(as_text=True)
    assert "Thank you!" in text and "ready for the next person" in text
    for trace in ("Ada", "ada@example.org", "For my children"):
        assert trace not in text
    with client.session_transaction() as session:
        assert "last_support" not in session
    support = db.session.execute(select(Support)).scalar_one()
    assert (support.name, support.stall_id, support.user_id) == ("Ada Lovelace", stall.id, None)
    assert support.confirmed_at is None  # still confirmed by email


def test_a_stall_not_open_yet_or_expired_takes_nothing(app, client):
    petition = make_campaign()
    later = open_stall(petition, hours=2, opens_at=utcnow() + timedelta(hours=5))
    page = client.get(f"/supports/stall/{later.token}")
    assert page.status_code == 200 and "This stall opens at" in page.get_data(as_text=True)
    assert "csrf_token" not in page.get_data(as_text=True)  # no form to post
    expired = open_stall(petition, hours=1)
    db.session.execute(
        update(Stall)
        .where(Stall.id == expired.id)
        .values(opens_at=utcnow() - timedelta(hours=3), closes_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    assert client.get(f"/supports/stall/{expired.token}").status_code == 410
    assert client.get("/supports/stall/no-such-stall").status_code == 404
    assert [s.id for s in stall_service.open_stalls()] == [later.id]


def test_moderators_see_open_stalls_and_invalidate_a_stalls_supports(app, client, monkeypatch, run_jobs):
    clock = Clock(monkeypatch)
    petition = make_campaign()
    stall = open_stall(petition)
    for n in range(4):
        sign(petition, n, stall=stall)
        clock.wait(11)
    elsewhere = sign(petition, 10, ip="192.0.2.10")
    assert count_of(petition) == 5
    moderator(client)
    page = client.get("/moderation/signing").get_data(as_text=True)
    assert f"{stall.id}: Market square, run by Vic Volunteer" in page
    assert f"/moderation/signing/invalidate?stall={stall.id}" in page
    assert client.get(f"/moderation/signing/held?stall={stall.id}").status_code == 200
    assert client.get("/moderation/signing/held?stall=999").status_code == 404
    done = post_form(
        client,
        "/moderation/signing/invalidate",
        {"stall": str(stall.id), "reason": "a leaked link", "confirm": "1"},
        follow_redirects=True,
    )
    assert "Invalidating 4 supports" in done.get_data(as_text=True)
    run_jobs()
    assert count_of(petition) == 1
    db.session.expire_all()
    assert db.session.get(Support, elsewhere.id).suspect is None
    row = db.session.execute(select(Invalidation)).scalar_one()
    assert (row.stall_id, row.campaign_id, row.invalidated) == (stall.id, petition.id, 4)


def test_the_stall_pages_show_its_hours_as_the_site_shows_times(app, client, monkeypatch):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    stall = open_stall(petition, hours=2, opens_at=utcnow() + timedelta(hours=1))
    db.session.execute(
        update(Stall)
        .where(Stall.id == stall.id)
        .values(
            opens_at=datetime(2099, 12, 3, 7, 16, tzinfo=UTC),
            closes_at=datetime(2099, 12, 3, 19, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    monkeypatch.setattr(
        "campaign.campaigns.stalls.utcnow", lambda: datetime(2099, 12, 1, 9, 5, 30, tzinfo=UTC)
    )
    login(client, organiser.email)
    for language, hours, now, opens in (
        (
            "en",
            "From 3 Dec 2099, 07:16 to 3 Dec 2099, 19:00 UTC.",
            "It is 1 Dec 2099, 09:05 UTC now.",
            "This stall opens at 3 Dec 2099, 07:16 UTC.",
        ),
        (
            "es",
            "Del 3 dic 2099, 07:16 al 3 dic 2099, 19:00 UTC.",
            "Ahora es el 1 dic 2099, 09:05 UTC.",
            "Este puesto abre el 3 dic 2099, 07:16 UTC.",
        ),
    ):
        listing = client.get(f"/petitions/{petition.slug}/stalls", headers={"Accept-Language": language})
        text = listing.get_data(as_text=True)
        assert f'<html lang="{language}">' in text
        assert hours in text and now in text, language
        page = client.get(f"/supports/stall/{stall.token}", headers={"Accept-Language": language})
        assert opens in page.get_data(as_text=True), language
        for raw in ("2099-12-03 07:16", "2099-12-01 09:05"):
            assert raw not in text and raw not in page.get_data(as_text=True), language


# ---------------------------------------------------------------------------- IPv6


def test_the_per_ip_limit_keys_ipv6_by_its_64(app):
    petition = make_campaign()
    assert sign(petition, 1, ip="2001:db8:1:2::1").suspect is None
    assert sign(petition, 2, ip="2001:db8:1:2:ffff:1:2:3").suspect == Suspect.RATE_LIMIT
    assert sign(petition, 3, ip="2001:db8:1:3::1").suspect is None  # another /64
    assert sign(petition, 4, ip="192.0.2.4").suspect is None
    assert sign(petition, 5, ip="::ffff:192.0.2.4").suspect == Suspect.RATE_LIMIT
    assert abuse.limit_key("2001:db8:1:2:abcd::9") == "2001:db8:1:2::/64"
    assert abuse.limit_key("not an address") is None
    assert abuse.ip_range("203.0.113.9") == "203.0.113.0/24"
