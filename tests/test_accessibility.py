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
from tests.factories import make_brand, make_campaign, make_user

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
    db.session.commit()
    pages = {
        "home": "/", "browse": "/campaigns/", "choose-kind": "/campaigns/new",
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
        "moderator@example.org": {"moderation": "/moderation/", "new-brand": "/brands/new"},
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
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    return [f"{name} ({width}) {v}" for v in violations]


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
