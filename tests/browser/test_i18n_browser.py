"""Languages in a real browser: the browser's language is followed, the switcher works by
keyboard and the choice sticks (tests/web/test_i18n.py checks the catalogues and the
negotiation; tests/browser/test_accessibility.py walks every page in Spanish)."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import CampaignKind
from tests.browser.browsing import WIDTHS
from tests.factories import make_campaign


def test_the_switcher_works_by_keyboard_and_the_choice_sticks(browser, live_app):
    """A browser set to Spanish gets the page in Spanish (tests/browser/test_accessibility.py walks
    every page in Spanish with axe); the switcher is reached and used with the keyboard
    alone, and the choice wins over the browser's language."""
    _, base = live_app
    petition = make_campaign(CampaignKind.PETITION)
    url = f"{base}/petitions/{petition.slug}"
    db.session.remove()
    context = browser.new_context(viewport=WIDTHS["phone"], locale="es-ES")
    page = context.new_page()
    page.goto(url)
    assert page.evaluate("document.documentElement.lang") == "es"
    assert "Firmar" in page.inner_text("#support")
    for _step in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('hreflang')") == "en":
            break
    else:
        pytest.fail("the language switcher cannot be reached by keyboard")
    with page.expect_navigation(url=url):
        page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert "Sign" in page.inner_text("#support")
    page.goto(base + "/")  # the browser still asks for Spanish; the choice wins
    assert page.evaluate("document.documentElement.lang") == "en"
    context.close()
