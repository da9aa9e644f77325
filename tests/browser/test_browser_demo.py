"""The demo as people meet it after `make run`, in a real browser at a phone's and a laptop's
width: pages full of seeded life, what each role is told, the outbox's sandboxed email.
Screenshots land in test-artifacts/ (demo-*.png)."""

from __future__ import annotations

import pytest

from campaign.demo import DEMO_PASSWORD, seed
from tests.browser.browsing import log_in, shot

pytestmark = pytest.mark.browser

WIDTHS = {"phone": (390, 844), "laptop": (1280, 900)}
PETITION = "/petitions/northwind-coffee-pay-farmers-a-living-income"
BOYCOTT = "/boycotts/boycott-northwind-apparel-until-it-signs-the-safety-accord"


def look(page, base: str, path: str, name: str, width: int) -> str:
    page.goto(base + path)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, (path, overflow)
    shot(page, name)
    return page.locator("main").inner_text()


@pytest.mark.parametrize("label", WIDTHS)
def test_the_demo_looks_alive_to_each_role(browser, live_app, label):
    """At each width a test of its own, so that both test processes can walk one."""
    app, base = live_app
    assert seed()
    width, height = WIDTHS[label]
    visitor = browser.new_context(viewport={"width": width, "height": height})
    page = visitor.new_page()
    home = look(page, base, "/", f"demo-home-{label}", width)
    assert "Trending" in home or "trending" in home.lower()
    text = look(page, base, PETITION, f"demo-petition-{label}", width)
    assert "For Northwind Coffee" in text  # the brand's answer carries its badge
    text = look(page, base, BOYCOTT, f"demo-boycott-{label}", width)
    assert "conditional" in text.lower()
    assert "won" in look(page, base, "/victories", f"demo-victories-{label}", width).lower()
    look(page, base, "/brands/fairfield-foods/roadmap", f"demo-roadmap-{label}", width)
    visitor.close()

    member = browser.new_context(viewport={"width": width, "height": height})
    page = member.new_page()
    log_in(page, base, "supporter@demo.groundswell.example", DEMO_PASSWORD)
    text = look(page, base, PETITION, f"demo-petition-signed-{label}", width)
    assert "You signed on" in text
    member.close()

    brand = browser.new_context(viewport={"width": width, "height": height})
    page = brand.new_page()
    log_in(page, base, "brand@demo.groundswell.example", DEMO_PASSWORD)
    if width < 56 * 16:  # a phone: the links are behind the Menu (app.css, 56em)
        page.locator(".nav-menu > summary").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Brand inbox").click()
    page.get_by_role("heading", level=1).wait_for()
    shot(page, f"demo-brand-inbox-{label}")
    state = page.locator("main .badge").first.bounding_box()  # each delivery's state in view
    assert state["x"] + state["width"] <= width, state  # (a phone: a card per delivery)
    brand.close()

    organiser = browser.new_context(viewport={"width": width, "height": height})
    page = organiser.new_page()
    log_in(page, base, "organiser@demo.groundswell.example", DEMO_PASSWORD)
    page.goto(base + PETITION)
    page.get_by_role("button", name="Deliver to Northwind Coffee now").click()
    heading = page.get_by_role("heading", level=1)
    heading.wait_for()
    assert heading.inner_text().startswith("Deliver ")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"demo-deliver-confirm-{label}")
    page.get_by_role("link", name="Cancel").click()
    look(page, base, PETITION + "/victory", f"demo-victory-form-{label}", width)
    organiser.close()

    # The outbox shows an email's HTML part in a sandbox, beside its text.
    from campaign.services.accounts import request_verification
    from tests.browser.browsing import run_worker
    from tests.factories import make_user

    user = make_user("new@example.org", verified=False)
    request_verification(user.id)
    run_worker(app)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(base + "/dev/outbox")
    page.locator("table a").first.click()
    frame = page.frame_locator("iframe.email-html")
    frame.locator("body").wait_for()
    assert "Groundswell" in frame.locator("body").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"demo-outbox-message-{label}")
    context.close()
