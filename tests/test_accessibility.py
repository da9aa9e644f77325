"""Every main page, at phone and desktop widths: a screenshot into test-artifacts/pages/ and
an axe-core check (the npm package, served from node_modules) with no serious or critical
violations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from campaign.extensions import db
from campaign.models import (
    BrandMember,
    CampaignKind,
    CampaignState,
    Delivery,
    DeliveryState,
    Response,
    Role,
    utcnow,
)
from tests.browsing import ARTIFACTS, log_in
from tests.factories import PASSWORD, make_brand, make_campaign, make_user

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture
def site(live_app):
    """A small world with a page of every kind to look at."""
    app, base = live_app
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it with npm ci.")
    group = make_brand("Northwind Group")
    brand = make_brand("Northwind Coffee", parent=group)
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    make_user("moderator@example.org", role=Role.MODERATOR)
    member = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=brand, user=member, verified_at=utcnow()))
    campaigns = {kind: make_campaign(kind, organiser=organiser, brand=brand,
                                     title=f"A {kind.value} about fair coffee prices")
                 for kind in CampaignKind}
    petition = campaigns[CampaignKind.PETITION]
    make_campaign(CampaignKind.PETITION, organiser=organiser, brand=brand,
                  state=CampaignState.PENDING, title="A petition waiting for review")
    # Two delivered campaigns, one answered: the brand page's accountability chart.
    for campaign, days_ago in ((petition, 9), (campaigns[CampaignKind.BOYCOTT], 2)):
        db.session.add(Delivery(campaign_id=campaign.id, brand_id=brand.id, round=1,
                                state=DeliveryState.SENT, up_to_support_id=0,
                                sent_at=utcnow() - timedelta(days=days_ago)))
    db.session.add(Response(campaign_id=petition.id, brand_id=brand.id, author_name="Sam Lee",
                            stance="discussing", body="We are looking into it.", digest="a11y",
                            created_at=utcnow() - timedelta(days=4)))
    from campaign.models import Topic

    climate = Topic(slug="climate", name="Climate", name_es="Clima")
    db.session.add(climate)
    campaigns[CampaignKind.PETITION].topics = [climate]
    db.session.commit()
    pages = {
        "home": "/", "browse": "/campaigns/", "search": "/campaigns/?q=fair+coffee&sort=newest",
        "topics": "/topics/", "topic": "/topics/climate", "choose-kind": "/campaigns/new",
        "brands": "/brands/", "brand": f"/brands/{brand.slug}",
        "roadmap": f"/brands/{brand.slug}/roadmap", "victories": "/victories",
        "verify": "/verify", "login": "/login", "signup": "/signup", "reset": "/reset",
        "not-found": "/no-such-page",
        **{kind.value: f"/{c.blueprint}/{c.slug}" for kind, c in campaigns.items()},
    }
    member_pages = {
        "organiser@example.org": {"account": "/account/", "pledges": "/account/pledges",
                                  "email-settings": "/account/settings",
                                  "start-petition": "/petitions/new",
                                  "start-buycott": "/buycotts/new",
                                  "supporters": f"/petitions/{petition.slug}/supporters"},
        "moderator@example.org": {"moderation": "/moderation/", "new-brand": "/brands/new",
                                  "topics-admin": "/moderation/topics"},
        "sam@example.org": {"inbox": f"/brands/{brand.slug}/inbox"},
    }
    db.session.remove()
    return base, pages, member_pages


def check(page, name: str, width: str) -> list[str]:
    folder = ARTIFACTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("typeof axe.run") == "function"
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wider = [f"{name} ({width}) is {overflow[0]} px wide in a {overflow[1]} px window"
             ] if overflow[0] > overflow[1] else []
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return wider + [f"{name} ({width}) {v}" for v in violations]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_main_page_passes_axe(browser, site, width):
    base, pages, member_pages = site
    problems = []
    # bypass_csp lets the test inject axe; the app's own pages run no inline script.
    context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
    page = context.new_page()
    for name, path in pages.items():
        page.goto(base + path)
        problems += check(page, name, width)
    context.close()
    for email, more in member_pages.items():
        context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
        page = context.new_page()
        log_in(page, base, email)
        for name, path in more.items():
            page.goto(base + path)
            problems += check(page, name, width)
        context.close()
    assert problems == [], "\n".join(problems)


def test_a_visitor_signs_with_the_keyboard_alone(browser, site):
    base, pages, _ = site
    context = browser.new_context(viewport=WIDTHS["desktop"])
    page = context.new_page()
    page.goto(base + pages["petition"])
    # The skip link is the first stop and takes focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(60):  # tab to the name field of the support form
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "name":
            break
    else:
        pytest.fail("the support form cannot be reached by keyboard")
    page.keyboard.type("Kay Board")
    page.keyboard.press("Tab")
    page.keyboard.type("kay@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("France")  # typing selects the option in a focused select
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "submit":
            break
    page.keyboard.press("Enter")
    page.get_by_text("check your email").wait_for()
    context.close()


def focused(page, script: str = "document.activeElement.id"):
    return page.evaluate(script)


def tab_to(page, wanted: str, script: str = "document.activeElement.id", limit: int = 80,
           key: str = "Tab") -> None:
    """Press Tab (or ``key``) until ``script`` gives ``wanted`` about the focused element."""
    for _ in range(limit):
        page.keyboard.press(key)
        if focused(page, script) == wanted:
            # Where focus is must show: the outline app.css gives :focus-visible.
            outline = focused(page, "(s => s.outlineStyle + ' ' + s.outlineWidth)"
                                    "(getComputedStyle(document.activeElement))")
            assert outline.split()[0] != "none" and outline.split()[1] != "0px", (wanted, outline)
            return
    pytest.fail(f"{wanted!r} cannot be reached by keyboard")


FOCUSED_TEXT = "document.activeElement.textContent.trim()"
FOCUSED_VALUE = "document.activeElement.value"


def log_in_by_keyboard(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    tab_to(page, "email")
    page.keyboard.type(email)
    tab_to(page, "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_text("Welcome back").wait_for()


def test_an_organiser_starts_and_submits_a_petition_with_the_keyboard_alone(browser, site):
    base, _, _ = site
    context = browser.new_context(viewport=WIDTHS["desktop"], bypass_csp=True)
    page = context.new_page()
    log_in_by_keyboard(page, base, "organiser@example.org")
    page.goto(base + "/campaigns/new")
    tab_to(page, "Start a petition", FOCUSED_TEXT)
    page.keyboard.press("Enter")
    page.wait_for_url("**/petitions/new")
    tab_to(page, "title")
    page.keyboard.type("Pay coffee farmers a living price")
    page.keyboard.press("Tab")
    assert focused(page) == "summary"
    page.keyboard.type("Northwind Coffee should pay the farmers who grow its beans enough to live on.")
    tab_to(page, "brand_name")
    page.keyboard.type("Northw")
    page.get_by_role("option", name="Northwind Coffee").wait_for()
    for _ in range(5):  # arrow keys move through the brands listed, Enter chooses
        page.keyboard.press("ArrowDown")
        if focused(page, "document.getElementById(document.activeElement"
                         ".getAttribute('aria-activedescendant')).dataset.name") == "Northwind Coffee":
            break
    else:
        pytest.fail("the brand cannot be chosen by keyboard")
    page.keyboard.press("Enter")
    assert focused(page, "document.getElementById('target_brand_id').value") != ""
    tab_to(page, "demand")
    page.keyboard.type("Publish what you pay farmers and raise it to a living income by 2027.")
    tab_to(page, "body")
    page.keyboard.type("Farmers earn less than it costs to grow the coffee we drink.")
    tab_to(page, "goal")
    assert focused(page, FOCUSED_VALUE) == "1000"
    page.keyboard.press("Shift+Tab")  # and back again, to check the order runs both ways
    assert focused(page) == "topics-0"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "language"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "body"
    tab_to(page, "Save draft", FOCUSED_VALUE)
    page.keyboard.press("Enter")
    page.get_by_text("is saved as a draft").wait_for()
    assert page.locator("h1").inner_text() == "Pay coffee farmers a living price"
    tab_to(page, "Submit for review", FOCUSED_TEXT)
    page.keyboard.press("Space")
    page.locator(".flash-success", has_text="A moderator will review it").wait_for()
    problems = check(page, "organiser-submitted", "desktop")
    context.close()
    assert problems == [], "\n".join(problems)


def test_a_brand_member_answers_with_the_keyboard_alone(browser, site):
    base, _, member_pages = site
    context = browser.new_context(viewport=WIDTHS["desktop"], bypass_csp=True)
    page = context.new_page()
    log_in_by_keyboard(page, base, "sam@example.org")
    page.goto(base + member_pages["sam@example.org"]["inbox"])
    # The boycott was delivered two days ago and is not answered yet.
    tab_to(page, "A boycott about fair coffee prices", FOCUSED_TEXT)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Answer in public").wait_for()
    tab_to(page, "author_name")
    assert focused(page, FOCUSED_VALUE) == "Sam Lee"
    page.keyboard.press("Tab")  # into the stance group; arrow keys choose within it
    assert focused(page, "document.activeElement.type") == "radio"
    tab_to(page, "Under discussion", "document.querySelector('input[name=stance]:checked')"
           "?.labels[0].textContent.trim()", limit=6, key="ArrowDown")
    assert focused(page, "document.activeElement.checked") is True
    page.keyboard.press("Tab")
    assert focused(page) == "body"
    page.keyboard.type("We will publish our farm-gate prices in our next sourcing report.")
    tab_to(page, "Publish the answer", FOCUSED_VALUE)
    page.keyboard.press("Enter")
    page.get_by_text("Your answer is published on the campaign page").wait_for()
    assert "/boycotts/" in page.url
    page.get_by_text("We will publish our farm-gate prices").wait_for()
    problems = check(page, "brand-answered", "desktop")
    context.close()
    assert problems == [], "\n".join(problems)
