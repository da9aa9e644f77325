"""Finding campaigns in a real browser: search results, the brand picker with and without
script, similar campaigns while writing, topic pages; screenshots at phone and desktop."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import CampaignKind, Topic
from tests.browser.browsing import choose_brand, log_in, shot
from tests.factories import make_brand, make_campaign, make_user

pytestmark = pytest.mark.browser

WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}


@pytest.fixture
def world(live_app):
    app, base = live_app
    group = make_brand("Umbrella Holdings")
    cola = make_brand("Umbrella Cola", parent=group)
    make_brand("Umbra Shoes")
    health = Topic(slug="health", name="Health", name_es="Salud")
    db.session.add(health)
    boycott = make_campaign(CampaignKind.BOYCOTT, brand=cola, title="Boycott sugary cans sold to children")
    boycott.topics = [health]
    boycott.summary = "Umbrella Cola markets sugary drinks to children: stop it."
    make_campaign(CampaignKind.PETITION, brand=group, title="Pay farmers a living income")
    make_user("organiser@example.org", name="Olu Organiser")
    db.session.commit()
    db.session.remove()
    return app, base


@pytest.mark.parametrize("width", WIDTHS)
def test_search_results_and_topic_page(browser, world, width):
    _app, base = world
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/campaigns/")
    page.get_by_label("Search").fill("children sugary")
    page.get_by_label("Sort by").select_option("newest")
    page.get_by_role("button", name="Show").click()
    # Read the results page, not the form page the click is leaving.
    page.wait_for_url("**q=children+sugary**")
    marks = page.locator(".campaign-card mark").all_inner_texts()
    assert [m.lower() for m in marks[:2]] == ["sugary", "children"]
    assert page.locator(".campaign-card h3").all_inner_texts() == ["Boycott sugary cans sold to children"]
    shot(page, f"search-results-{width}")
    # A typo is read as the closest word of the titles (SQLite's trigram word list here).
    page.get_by_label("Search").fill("sugray")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**q=sugray**")
    assert page.locator(".campaign-card h3").all_inner_texts() == ["Boycott sugary cans sold to children"]
    assert page.locator(".campaign-card h3 mark").all_inner_texts() == ["sugary"]
    page.goto(base + "/topics/health")
    assert page.locator("h1").inner_text() == "Health"
    assert page.locator(".campaign-card h3").all_inner_texts() == ["Boycott sugary cans sold to children"]
    shot(page, f"topic-page-{width}")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_brand_picker_and_similar_campaigns_with_script(browser, world, width):
    _app, base = world
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    page.goto(base + "/petitions/new")
    page.get_by_label("Title").fill("Fewer sugary cans for children")
    page.get_by_label("Brand", exact=True).fill("umbr")
    options = page.get_by_role("option")
    options.first.wait_for()
    assert "Umbrella Cola part of Umbrella Holdings" in options.all_inner_texts()
    suggest = page.get_by_role("link", name="Brand not listed? Suggest it")
    assert suggest.get_attribute("href").endswith("/brands/suggest?name=umbr")
    shot(page, f"brand-picker-open-{width}")
    choose_brand(page, "Umbrella Cola", typed="umbrella c")
    # Open campaigns to the brand (a boycott, another kind) are offered to join.
    page.locator("#similar").get_by_text("Boycott sugary cans sold to children").wait_for()
    shot(page, f"brand-picker-chosen-similar-{width}")
    page.get_by_label("Summary").fill("Umbrella Cola should sell fewer sugary cans to children.")
    page.get_by_label("What you ask of the brand").fill("Stop advertising to children.")
    page.get_by_label("The full story").fill("Children drink too much sugar.")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("saved as a draft").wait_for()
    assert "Umbrella Cola" in page.content()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_brand_picker_without_script(browser, world, width):
    _app, base = world
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=False)
    page = context.new_page()
    log_in(page, base, "organiser@example.org")
    page.goto(base + "/petitions/new")
    page.get_by_label("Title").fill("Fewer sugary cans for children")
    page.get_by_label("Summary").fill("Umbrella Cola should sell fewer sugary cans to children.")
    page.get_by_label("Brand", exact=True).fill("umbrella")
    page.get_by_label("What you ask of the brand").fill("Stop advertising to children.")
    page.get_by_label("The full story").fill("Children drink too much sugar.")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Choose which brand you mean from the list below.").first.wait_for()
    assert page.get_by_label("Title").input_value() == "Fewer sugary cans for children"
    shot(page, f"brand-picker-no-script-{width}")
    page.get_by_label("Umbrella Cola").check()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("saved as a draft").wait_for()
    context.close()
