"""A real browser (Playwright driving Debian's Chromium) walks the first journey."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import Role
from tests.browser.browsing import choose_brand, log_in, run_worker, shot
from tests.factories import PASSWORD, make_brand, make_user
from tests.helpers import link_in, read_outbox

pytestmark = pytest.mark.browser


def test_sign_up_verify_start_a_petition_approve_and_browse(browser, live_app, tmp_path):
    app, base = live_app
    brand = make_brand("Northwind Coffee")
    moderator = make_user("moderator@example.org", role=Role.MODERATOR)
    brand_name, moderator_email = brand.name, moderator.email
    db.session.remove()  # the server thread owns its own sessions

    # An organiser signs up.
    organiser = browser.new_context(viewport={"width": 390, "height": 844})
    page = organiser.new_page()
    page.goto(base + "/")
    page.get_by_text("Menu", exact=True).click()  # on a phone the links fold into a menu
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Your name").fill("Ada Organiser")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("We sent a link to ada@example.org").wait_for()
    shot(page, "journey-1-signed-up")

    # The verification email arrives through the real queue; she follows its link.
    run_worker(app)
    [message] = read_outbox(tmp_path / "outbox")
    assert message["To"] == "ada@example.org"
    page.goto(base + link_in(message, "/verify-email/"))
    page.get_by_role("button", name="Yes, confirm my address").click()
    page.get_by_text("ada@example.org is confirmed").wait_for()

    # She starts a petition and submits it for review.
    page.goto(base + "/campaigns/new")
    page.get_by_role("link", name="Start a petition").click()
    page.get_by_label("Title").fill("Northwind Coffee: pay farmers a living income")
    page.get_by_label("Summary").fill("Publish prices and pay a living income by 2028.")
    choose_brand(page, brand_name)
    page.get_by_label("What you ask of the brand").fill("Pay a living income reference price.")
    page.get_by_label("The full story").fill("Farmers earn **too little**.")
    page.get_by_label("Goal").fill("1000")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("saved as a draft").wait_for()
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("A moderator will review it").first.wait_for()
    shot(page, "journey-2-submitted")
    organiser.close()

    # A moderator approves it.
    moderation = browser.new_context()
    page = moderation.new_page()
    page.goto(base + "/login")
    page.get_by_label("Email").fill(moderator_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("link", name="Northwind Coffee: pay farmers a living income").click()
    page.get_by_role("button", name="Approve and publish").click()
    page.get_by_text("is published").wait_for()
    moderation.close()

    # A visitor finds it on the browse page and opens it.
    visitor = browser.new_context()
    page = visitor.new_page()
    page.goto(base + "/campaigns/?kind=petition")
    page.get_by_role("link", name="Northwind Coffee: pay farmers a living income").click()
    page.get_by_role("heading", name="Northwind Coffee: pay farmers a living income").wait_for()
    assert "too little" in page.inner_text("main")
    shot(page, "journey-3-public")
    visitor.close()


def test_a_visitor_signs_confirms_from_the_email_and_sees_the_count_rise(browser, live_app, tmp_path):
    from campaign.models import CampaignKind
    from tests.factories import make_campaign

    app, base = live_app
    petition = make_campaign(CampaignKind.PETITION, goal=100, title="Ban bee-killing pesticides")
    url = f"{base}/petitions/{petition.slug}"
    db.session.remove()

    visitor = browser.new_context(viewport={"width": 390, "height": 844})
    page = visitor.new_page()
    page.goto(url)
    assert "0 signatures of 100" in " ".join(page.inner_text(".progress-text").split())
    page.get_by_label("Your name").fill("Grace Visitor")
    page.get_by_label("Email", exact=True).fill("grace@example.org")
    page.get_by_label("Country").select_option("FR")
    page.get_by_label("Why I support this (optional)").fill("Bees feed us.")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("check your email").wait_for()
    shot(page, "sign-1-check-email")

    run_worker(app)
    [message] = read_outbox(tmp_path / "outbox")
    assert message["To"] == "grace@example.org"
    page.goto(base + link_in(message, "/supports/confirm/"))
    page.get_by_text("Confirmed. Thank you, Grace Visitor!").wait_for()

    run_worker(app)  # the counting job folds the confirmation in
    page.goto(url)
    assert "1 signature of 100" in " ".join(page.inner_text(".progress-text").split())
    shot(page, "sign-2-counted")
    visitor.close()


def test_organiser_delivers_brand_member_answers_supporter_rates(browser, live_app, tmp_path):
    from campaign.models import BrandMember, utcnow
    from campaign.services.supports import add_support
    from tests.factories import make_campaign

    app, base = live_app
    brand = make_brand("Northwind Coffee")
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    member = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=brand, user=member, title="Head of Sourcing", verified_at=utcnow()))
    db.session.commit()
    petition = make_campaign(organiser=organiser, brand=brand, title="Pay coffee farmers fairly")
    for n in range(3):
        add_support(
            petition.id,
            name=f"Fan {n}",
            email=f"fan{n}@example.org",
            country="GB",
            consents_to_updates=True,
            user_id=None,
        )
    slug, brand_slug = petition.slug, brand.slug
    db.session.remove()
    run_worker(app)  # confirmation emails
    for message in read_outbox(tmp_path / "outbox"):
        link = link_in(message, "/supports/confirm/")
        with app.test_client() as confirm_client:
            assert confirm_client.get(link).status_code == 200
    run_worker(app)  # fold the counts

    # The organiser delivers.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_role("button", name="Deliver to Northwind Coffee now").click()
    # It asks first, and says what will happen.
    page.get_by_role("heading", name="Deliver 3 signatures to Northwind Coffee now?").wait_for()
    shot(page, "deliver-0-confirm")
    page.get_by_role("button", name="Deliver now").click()
    page.get_by_text("Round 1 is being prepared").wait_for()
    run_worker(app)
    page.reload()
    page.get_by_text("delivered").first.wait_for()
    assert "3 signatures" in page.locator("#deliveries").inner_text()
    shot(page, "deliver-1-delivered")
    context.close()

    # The brand member opens the inbox and answers.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "sam@example.org")
    page.goto(f"{base}/brands/{brand_slug}/inbox")
    page.get_by_role("link", name="Pay coffee farmers fairly").click()
    page.get_by_role("heading", name="Answer in public").wait_for()
    page.get_by_label("Under discussion").check()
    page.get_by_label("The answer", exact=True).fill("We are reviewing our sourcing prices.")
    page.get_by_role("button", name="Publish the answer").click()
    page.get_by_role("heading", name="Northwind Coffee answered: Under discussion").wait_for()
    shot(page, "deliver-2-answered")
    context.close()

    # A supporter is told, opens the link in the email and rates the answer.
    run_worker(app)
    run_worker(app)
    told = [m for m in read_outbox(tmp_path / "outbox") if "answered" in m["Subject"]]
    assert len(told) == 3
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(base + link_in(told[0], "/responses/"))
    page.get_by_role("button", name="Partly").click()
    page.get_by_text("your view is counted").wait_for()
    assert "1 partly" in " ".join(page.inner_text(".tally").split())
    shot(page, "deliver-3-rated")
    context.close()


def start_campaign(page, base: str, kind: str, fields: dict, brand_name: str) -> None:
    """Fill the start form of ``kind`` and submit it for review (logged in already)."""
    page.goto(f"{base}/{kind}s/new")
    page.get_by_label("Title").fill(fields["title"])
    page.get_by_label("Summary").fill(fields["summary"])
    choose_brand(page, brand_name)
    for label, value in fields.get("extra", {}).items():
        page.get_by_label(label, exact=True).fill(value)
    for label in fields.get("check", []):
        page.get_by_label(label).check()
    page.get_by_label("The full story").fill(fields["body"])
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("saved as a draft").wait_for()
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("A moderator will review it").first.wait_for()


def approve_as_moderator(browser, base: str, email: str, title: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, email)
    page.goto(base + "/moderation/")
    page.get_by_role("link", name=title).click()
    page.get_by_role("button", name="Approve and publish").click()
    page.get_by_text("is published").wait_for()
    context.close()


def test_a_proposal_from_idea_to_the_brands_status(browser, live_app, tmp_path):
    from campaign.models import BrandMember, CampaignKind, EmailFrequency, Role, utcnow
    from tests.factories import make_campaign

    app, base = live_app
    brand = make_brand("Fairfield Foods")
    make_campaign(CampaignKind.PROPOSAL, brand=brand, title="Refill stations for rice and oats")
    make_user("organiser@example.org", name="Olu Organiser")
    make_user("moderator@example.org", role=Role.MODERATOR)
    # Told at once (not in tomorrow's digest), so the walk can read the email.
    make_user("fan@example.org", name="Fran Fan", email_frequency=EmailFrequency.IMMEDIATELY)
    sam = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=brand, user=sam, verified_at=utcnow()))
    db.session.commit()
    brand_slug = brand.slug
    db.session.remove()

    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    page.goto(f"{base}/proposals/new")
    choose_brand(page, "Fairfield Foods")
    page.get_by_label("Title").fill("Refill stations for pasta")
    page.get_by_text("Open campaigns to this brand like yours").wait_for()
    assert "Refill stations for rice and oats" in page.inner_text("#similar")
    shot(page, "proposal-1-similar")
    context.close()

    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    start_campaign(
        page,
        base,
        "proposal",
        {
            "title": "Paper bags at every checkout",
            "summary": "Swap plastic bags for paper.",
            "body": "Plastic bags end up in rivers.",
        },
        "Fairfield Foods",
    )
    context.close()
    approve_as_moderator(browser, base, "moderator@example.org", "Paper bags at every checkout")

    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "fan@example.org")
    page.goto(f"{base}/campaigns/?kind=proposal")
    page.get_by_role("link", name="Paper bags at every checkout").click()
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Email me about this campaign’s progress").check()
    page.get_by_role("button", name="Endorse").click()
    page.get_by_text("Thank you, Fran Fan!").wait_for()
    context.close()
    run_worker(app)

    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "sam@example.org")
    page.goto(f"{base}/brands/{brand_slug}/roadmap")
    page.get_by_role("link", name="Paper bags at every checkout").click()
    page.get_by_label("Planned").check()
    page.get_by_label("Official answer").fill("We will switch to paper bags in March.")
    page.get_by_role("button", name="Set status").click()
    page.get_by_text("The status is set").wait_for()
    assert "We will switch to paper bags in March." in page.inner_text("#status")
    shot(page, "proposal-2-planned")
    context.close()
    run_worker(app)
    run_worker(app)
    told = [m for m in read_outbox(tmp_path / "outbox") if m["Subject"].startswith("Planned")]
    assert [m["To"] for m in told] == ["fan@example.org"]


def test_a_boycott_from_start_to_the_brands_answer(browser, live_app, tmp_path):
    from campaign.models import BrandMember, Role, utcnow

    app, base = live_app
    group = make_brand("Northwind Group")
    apparel = make_brand("Northwind Apparel", parent=group)
    make_user("organiser@example.org", name="Olu Organiser")
    make_user("moderator@example.org", role=Role.MODERATOR)
    make_user("fan@example.org", name="Fran Fan")
    sam = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=group, user=sam, verified_at=utcnow()))
    db.session.commit()
    apparel_slug = apparel.slug
    db.session.remove()

    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    start_campaign(
        page,
        base,
        "boycott",
        {
            "title": "Boycott Northwind until it signs the accord",
            "summary": "Stop buying from every Northwind brand.",
            "body": "Factory safety is not optional.",
            "extra": {"Demands": "Sign the safety accord"},
            "check": ["The whole group: every brand it owns, through the ownership tree"],
        },
        "Northwind Group",
    )
    context.close()
    approve_as_moderator(
        browser, base, "moderator@example.org", "Boycott Northwind until it signs the accord"
    )

    # The boycott covers the subsidiary too; a member pledges.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/brands/{apparel_slug}")
    page.get_by_role("link", name="Boycott Northwind until it signs the accord").click()
    log_in(page, base, "fan@example.org")
    page.go_back()
    page.go_back()
    page.reload()
    page.get_by_label("Country").select_option("FR")
    page.get_by_label("About how much do you spend with them a month? (optional, €)").fill("40")
    page.get_by_role("button", name="Pledge to stop buying").click()
    page.get_by_text("Thank you, Fran Fan!").wait_for()
    run_worker(app)
    page.goto(f"{base}/account/pledges?brand=apparel")
    page.get_by_text("avoid it").wait_for()
    shot(page, "boycott-1-pledge-check")
    context.close()

    # The organiser delivers; the brand member answers from the inbox.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    page.goto(base + "/account/")
    page.get_by_role("link", name="Boycott Northwind until it signs the accord").click()
    page.get_by_role("button", name="Deliver to Northwind Group now").click()
    page.get_by_role("button", name="Deliver now").click()
    page.get_by_text("Round 1 is being prepared").wait_for()
    run_worker(app)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    log_in(page, base, "sam@example.org")
    page.goto(base + "/account/")
    page.get_by_role("link", name="Northwind Group").click()
    # The inbox is in the nav for a brand member, and on the brand's page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Brand inbox").click()
    page.get_by_role("link", name="Boycott Northwind until it signs the accord").click()
    page.get_by_label("Declined").check()
    page.get_by_label("The answer", exact=True).fill("We already audit our factories.")
    page.get_by_role("button", name="Publish the answer").click()
    page.get_by_role("heading", name="Northwind Group answered: Declined").wait_for()
    shot(page, "boycott-2-answered")
    context.close()
