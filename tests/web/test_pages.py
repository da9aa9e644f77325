"""Pages people see: home, errors, the development outbox, Markdown, demo data."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event

from campaign.extensions import db
from campaign.markdown import render_markdown
from campaign.models import Campaign, CampaignKind, CampaignState, Support, User
from tests.factories import BrandMemberFactory, SupportFactory, make_campaign, make_user
from tests.helpers import login


def test_home_shows_open_campaigns_of_every_kind(client):
    for kind in CampaignKind:
        make_campaign(kind, title=f"An open {kind.value} campaign")
    html = client.get("/").get_data(as_text=True)
    for kind in CampaignKind:
        assert f"An open {kind.value} campaign" in html
    assert "/static/css/app.css" in html


def test_styled_error_pages(app):
    @app.route("/boom")
    def boom():
        db.session.add(User(email="half@example.org", name="x", password_hash="x"))
        db.session.flush()
        raise RuntimeError("boom")

    client = app.test_client()
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert 'class="site-header"' in response.get_data(as_text=True)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert db.session.query(User).filter_by(email="half@example.org").count() == 0  # rolled back


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown(
        "# Title\n\n**bold** [ok](https://example.org) [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
    )
    assert "<h2>Title</h2>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html and 'rel="nofollow noopener ugc"' in html
    assert 'href="javascript' not in html
    assert "<script" not in html and "<img" not in html  # shown as text, never as tags


def test_bare_addresses_in_campaign_text_become_safe_links():
    html = render_markdown(
        "Write to press@northwind.org or read www.example.org/report. "
        'Not javascript:alert(1), nor <a href="javascript:x">this</a>.'
    )
    assert (
        '<a href="mailto:press@northwind.org" rel="nofollow noopener ugc">press@northwind.org</a>'
    ) in html
    assert '<a href="http://www.example.org/report" rel="nofollow noopener ugc">' in html
    assert '<a href="javascript' not in html and "&lt;a href" in html


def test_development_outbox_lists_and_shows_mail(client, run_jobs):
    from campaign.services.accounts import request_verification

    user = make_user("ada@example.org", verified=False)
    request_verification(user.id)
    run_jobs()
    listing = client.get("/dev/outbox").get_data(as_text=True)
    assert "Confirm your email address for Groundswell" in listing
    import re

    name = re.search(r'/dev/outbox/([^"]+\.eml)', listing).group(1)
    message = client.get(f"/dev/outbox/{name}").get_data(as_text=True)
    assert 'href="http://groundswell.test/verify-email/' in message
    # The HTML part beside it, framed in a sandbox and served under a CSP that runs nothing.
    assert f'src="/dev/outbox/{name}/html" sandbox="allow-popups' in message
    html = client.get(f"/dev/outbox/{name}/html")
    assert html.status_code == 200 and "<html" in html.get_data(as_text=True).lower()
    assert '<base target="_blank">' in html.get_data(as_text=True)
    csp = html.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get("/dev/outbox/..%2Fsecret_key").status_code == 404
    assert client.get("/dev/outbox/..%2Fsecret_key/html").status_code == 404


def test_the_outbox_shows_when_an_email_was_sent_as_the_site_shows_times(client):
    from campaign.mail import Email, outbox_folder

    # Written at 02:46 in a +01:00 zone: 01:46 UTC, as every time on the site.
    sent = datetime(2026, 12, 3, 2, 46, 53, tzinfo=timezone(timedelta(hours=1)))
    email = Email(to="ada@example.org", subject="Your weekly digest", text="Hello", html="<p>Hello</p>")
    folder = outbox_folder()
    folder.mkdir(parents=True)
    name = "20261203T014653000000-0123abcd.eml"
    (folder / name).write_bytes(email.to_bytes("Groundswell <no-reply@groundswell.test>", date=sent))
    raw = "Thu, 03 Dec 2026 02:46:53 +0100"
    assert raw in (folder / name).read_text()
    machine = '<time datetime="2026-12-03T01:46:53+00:00">'
    for language, shown, header in (
        ("en", "3 Dec 2026, 01:46", "Date (UTC)"),
        ("es", "3 dic 2026, 01:46", "Fecha (UTC)"),
    ):
        for page in ("/dev/outbox", f"/dev/outbox/{name}"):
            html = client.get(page, headers={"Accept-Language": language}).get_data(as_text=True)
            assert f'<html lang="{language}">' in html
            assert f"{machine}{shown}</time>" in html, (language, page)
            assert header in html and raw not in html and "Thu, 03 Dec" not in html, (language, page)


def test_seed_demo_is_idempotent_and_prints_logins(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data created." in first.output and "moderator@demo.groundswell.example" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert "already present" in second.output
    kinds = {c.kind for c in db.session.execute(db.select(Campaign)).scalars()}
    assert kinds == set(CampaignKind)
    # Each demo campaign carries its own picture, stored like an upload, with its alt text.
    pictures = db.session.execute(
        db.select(Campaign.picture, Campaign.picture_alt).where(Campaign.picture.is_not(None))
    ).all()
    assert len({key for key, _alt in pictures}) == 4 and all(alt for _key, alt in pictures)
    stored = {p.name for p in Path(runner.app.config["MEDIA_STORAGE"]).iterdir()}
    assert {f"{key}-card.webp" for key, _alt in pictures} <= stored


def test_the_demo_looks_alive_and_its_counts_are_exact(runner, client):
    from campaign.models import Delivery, Response
    from campaign.services.counting import recount

    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    campaigns = db.session.execute(db.select(Campaign)).scalars().all()
    counts = {c.slug: c.confirmed_count for c in campaigns}
    assert counts["northwind-coffee-pay-farmers-a-living-income"] > 2_000
    assert sum(counts.values()) > 5_000
    assert {c.state for c in campaigns} >= {CampaignState.OPEN, CampaignState.WON}
    assert len({c.proposal_status for c in campaigns if c.kind == "proposal"} - {None}) == 5
    # A recount (the nightly job) finds nothing to correct: every cached count is exact.
    assert recount() == {}
    delivery = db.session.execute(db.select(Delivery)).scalar_one()
    assert delivery.digest and db.session.execute(db.select(Response)).scalar_one().verdicts
    page = client.get("/petitions/northwind-coffee-pay-farmers-a-living-income")
    assert page.status_code == 200
    verify = client.get(f"/verify?digest={delivery.digest}&seal={delivery.seal}")
    shown = re.sub(r"<script.*?</script>", "", verify.get_data(as_text=True), flags=re.S)
    assert verify.status_code == 200 and "Not valid" not in shown


def test_flash_messages_and_navigation_for_members(client):
    user = make_user()
    login(client, user.email)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Welcome back" in html
    assert "Log out" in html and "Review queue" not in html


def test_a_campaign_page_loads_its_organiser_and_brand_with_the_campaign(client):
    """One query for the campaign, its organiser and its brand, which the page names; read
    one by one they were two more round trips on every page of a campaign."""
    campaign = make_campaign()
    slug, organiser, brand = campaign.slug, campaign.organiser.name, campaign.target_brand.name
    tables = []

    def read(_connection, _cursor, statement, *_):
        tables.extend(re.findall(r"\bFROM\s+(\w+)", statement))

    event.listen(db.engine, "before_cursor_execute", read)
    try:
        html = client.get(f"/petitions/{slug}").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", read)
    assert organiser in html and brand in html
    assert "campaigns" in tables and "users" not in tables and "brands" not in tables, tables


def test_a_members_page_reads_their_brand_memberships_with_them(client):
    """Every page's menu links a member's brand inboxes: their memberships and brands come
    with the member, not in queries of their own."""
    user = BrandMemberFactory().user
    login(client, user.email)
    tables = []

    def read(_connection, _cursor, statement, *_):
        tables.extend(re.findall(r"\bFROM\s+(\w+)", statement))

    event.listen(db.engine, "before_cursor_execute", read)
    try:
        html = client.get("/verify").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", read)
    assert "Brand inbox" in html
    assert "users" in tables and not {"brand_members", "brands"} & set(tables), tables


def test_the_campaign_page_shows_momentum(client, run_jobs):
    petition = make_campaign()
    for n in range(3):
        SupportFactory(campaign=petition, name=f"P{n}", email=f"p{n}@example.org", consents_to_updates=True)
    db.session.execute(
        db.update(Support)
        .where(Support.email == "p2@example.org")
        .values(is_public=False, comment="Because bees")
    )
    db.session.commit()
    run_jobs()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Signatures per day, last 30 days (3 in all)" in html
    assert '<span class="country-name">United Kingdom</span> <span class="country-count">3</span>' in html
    # One day with supports: one bar; the axis says its top and the days; words say it too.
    chart = html.split('class="chart-plot"')[1].split("</figure>")[0]
    assert chart.count("<rect ") == 1 and 'class="chart-top">5<' in chart
    assert "The busiest day was" in chart and "The numbers, day by day" in chart
    assert "<strong>P0</strong>" in html and "<strong>P2</strong>" not in html  # private name
    assert "Published" in html  # the timeline


def test_sharing_links_carry_referrals_the_organiser_sees(client, run_jobs):
    organiser = make_user("organiser@example.org")
    petition = make_campaign(organiser=organiser)
    page = f"/petitions/{petition.slug}"
    html = client.get(page).get_data(as_text=True)
    assert 'property="og:image"' in html and "share.png" in html
    assert "wa.me" in html and "ref%3Dwhatsapp" in html
    assert "<script" not in html.split("</main>")[0].split("<main")[1]  # no third-party script
    png = client.get(f"{page}/share.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"{page}/share.png", headers={"If-None-Match": png.headers["ETag"]}).status_code == 304
    from tests.helpers import post_form

    client.get(f"{page}?ref=whatsapp")
    post_form(
        client, f"{page}/support", {"name": "Ada", "email": "ada@example.org", "country": "GB"}, page=page
    )
    support = db.session.execute(db.select(Support)).scalar_one()
    assert support.referral == "whatsapp"
    client.get(f"{page}?ref=<script>")  # junk is ignored
    from tests.helpers import login

    db.session.execute(db.update(Support).values(confirmed_at=petition.created_at))
    db.session.commit()
    login(client, organiser.email)
    assert "Whatsapp: <strong>1</strong>" in client.get(f"{page}/supporters").get_data(as_text=True)


def test_atom_feeds_for_updates_and_victories(client):
    from campaign.models import Update, utcnow

    petition = make_campaign()
    db.session.add(
        Update(
            campaign_id=petition.id,
            author_id=petition.organiser_id,
            title="We met <them>",
            body="**Good** meeting",
        )
    )
    petition.state = CampaignState.WON
    petition.won_at = utcnow()
    petition.victory_story = "They agreed."
    db.session.commit()
    feed = client.get(f"/petitions/{petition.slug}/updates.atom")
    assert feed.mimetype == "application/atom+xml"
    text = feed.get_data(as_text=True)
    assert "We met &lt;them&gt;" in text and "&lt;strong&gt;Good&lt;/strong&gt;" in text
    import xml.etree.ElementTree as ET

    ET.fromstring(feed.data)  # well-formed
    victories = client.get("/victories.atom")
    ET.fromstring(victories.data)
    assert petition.title in victories.get_data(as_text=True)


def test_only_the_widget_may_be_framed(client):
    petition = make_campaign()
    widget = client.get(f"/petitions/{petition.slug}/embed")
    assert widget.status_code == 200
    assert "frame-ancestors *" in widget.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in widget.headers
    assert "0</strong> signatures of 100" in widget.get_data(as_text=True)
    page = client.get(f"/petitions/{petition.slug}")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "&lt;iframe src=" in page.get_data(as_text=True)
    draft = make_campaign(state=CampaignState.DRAFT)
    assert client.get(f"/petitions/{draft.slug}/embed").status_code == 404


def test_home_shows_trending_victories_and_brands_most_asked(client, run_jobs):
    from campaign.models import utcnow

    quiet = make_campaign(title="A quiet campaign nobody signs")
    busy = make_campaign(title="A busy campaign everyone signs", brand=quiet.target_brand)
    for n in range(3):
        SupportFactory(campaign=busy, name=f"P{n}", email=f"p{n}@example.org", consents_to_updates=True)
    won = make_campaign(state=CampaignState.WON, title="A campaign that won")
    won.won_at = utcnow()
    db.session.commit()
    run_jobs()
    html = client.get("/").get_data(as_text=True)
    trending = html.split("Trending this week")[1].split("</section>")[0]
    assert "A busy campaign" in trending and "A quiet campaign" not in trending
    assert "A campaign that won" in html.split("Recent victories")[1]
    asked = html.split("Brands most asked of")[1]
    assert f'{quiet.target_brand.name}</a> <span class="muted">2 campaigns' in asked


def test_progress_says_what_is_next_and_how_it_ended(client, run_jobs):
    from tests.factories import SupportFactory

    petition = make_campaign(goal=10_000)
    SupportFactory(campaign=petition, name=f"P{0}", email=f"p{0}@example.org", consents_to_updates=True)
    run_jobs()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert 'max="10000" value="1"' in html and "9,999 more to reach 10,000" in html
    assert '<a class="button button-block" href="#support">Sign</a>' in html
    # A goal reached shows the next one, as the largest petition sites do.
    db.session.execute(db.update(Campaign).where(Campaign.id == petition.id).values(goal=1))
    db.session.commit()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    assert "Goal of 1 reached! Next goal: 1 more to reach 2" in " ".join(html.split())
    # A won campaign shows its victory, not a bar.
    db.session.execute(
        db.update(Campaign)
        .where(Campaign.id == petition.id)
        .values(goal=2_500, state=CampaignState.WON, won_at=db.func.now())
    )
    db.session.commit()
    html = client.get(f"/petitions/{petition.slug}").get_data(as_text=True)
    status = html.split('class="card campaign-status"')[1].split("</div>")[0]
    assert "Victory!" in status and "<progress" not in status and "more to reach" not in status
    assert 'href="#support"' not in html
    # Spanish counts one and many apart.
    spanish = client.get(
        "/petitions/" + make_campaign(goal=10).slug, headers={"Accept-Language": "es"}
    ).get_data(as_text=True)
    assert "Faltan 10 para llegar a 10" in spanish


def test_a_conditional_boycott_says_how_many_more_pledges_it_waits_for(client, run_jobs):
    from tests.factories import SupportFactory

    boycott = make_campaign(CampaignKind.BOYCOTT, goal=100)
    SupportFactory(campaign=boycott, name=f"P{0}", email=f"p{0}@example.org", consents_to_updates=True)
    SupportFactory(
        campaign=boycott,
        name=f"P{1}",
        email=f"p{1}@example.org",
        consents_to_updates=True,
        condition_threshold=3,
    )
    SupportFactory(
        campaign=boycott,
        name=f"P{2}",
        email=f"p{2}@example.org",
        consents_to_updates=True,
        condition_threshold=3,
    )
    SupportFactory(
        campaign=boycott,
        name=f"P{3}",
        email=f"p{3}@example.org",
        consents_to_updates=True,
        condition_threshold=50,
    )
    run_jobs()
    html = " ".join(client.get(f"/boycotts/{boycott.slug}").get_data(as_text=True).split())
    # 4 count: the two waiting for 3 are on; the next threshold waited for is 50.
    assert "46 more pledges and 1 person's boycott begins." in html


def test_next_goal_is_the_next_round_number():
    from campaign.models import Petition

    def shown(count, goal):
        return Petition(confirmed_count=count, goal=goal).next_goal

    assert [
        shown(1, 10_000),
        shown(10, 10),
        shown(12, 10),
        shown(3, 2),
        shown(999, 500),
        shown(1000, 1000),
        shown(2_000_000, 5),
    ] == [10_000, 20, 20, 5, 1000, 2000, 5_000_000]
