"""Helpers for the browser tests (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import contextvars
from pathlib import Path

from campaign.extensions import db
from tests.factories import PASSWORD
from tests.helpers import ARTIFACTS, work_queues

#: axe-core, from the npm registry (`make test` runs npm ci).
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: The two widths every page is looked at.
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
#: What of the page's content a phone cuts off, each as the start of its text: a table cell or a
#: form control that ends past the window's right edge (a column scrolled out of view; on a
#: phone a table of a few facts a row is a card a row instead, app.css .table-stack), and a
#: select whose chosen option is wider than the box that shows it (a select cannot wrap its
#: text: a long choice is cut mid-word; radios wrap). What is not shown (a closed <details>)
#: has no box.
CUT_OFF = r"""() => {
    const text = el => (el.labels?.[0] || el).textContent.replace(/\s+/g, ' ').trim().slice(0, 30);
    const shown = el => el.getClientRects().length > 0;
    const past = el => Math.round(el.getBoundingClientRect().right) > window.innerWidth;
    const pen = document.createElement('canvas').getContext('2d');
    const chosenCut = select => {
        const style = getComputedStyle(select);
        pen.font = style.font;
        const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return pen.measureText(select.selectedOptions[0].text).width > room + 1;
    };
    const controls = 'input:not([type=hidden]), select, textarea, button';
    return {
        cells: [...document.querySelectorAll('main td')].filter(shown).filter(past).map(text),
        controls: [...document.querySelectorAll('main :is(' + controls + ')')]
            .filter(shown).filter(past).map(text),
        selects: [...document.querySelectorAll('main select')]
            .filter(s => shown(s) && s.selectedOptions.length && chosenCut(s))
            .map(s => text(s) + ': ' + s.selectedOptions[0].text),
    };
}"""


#: The ``.table-scroll`` boxes whose place in the tab order is wrong: one whose table is wider
#: than it must be reachable (the arrow keys scroll it); one whose table fits is no tab stop.
WRONG_TAB_STOPS = r"""() => [...document.querySelectorAll('.table-scroll')].filter(box => {
    const scrolls = box.scrollWidth > box.clientWidth;
    return scrolls !== (box.getAttribute('tabindex') === '0');
}).map(box => box.getAttribute('aria-labelledby') + (box.scrollWidth > box.clientWidth
    ? ' scrolls but is no tab stop' : ' fits but is a tab stop'))"""


def cut_off(page, name: str) -> list[str]:
    """A problem for ``name`` for each kind of thing the window cuts off (``CUT_OFF``)."""
    found = page.evaluate(CUT_OFF)
    what = {
        "cells": "table cells past the window's right edge",
        "controls": "form controls past the window's right edge",
        "selects": "selects showing their choice cut off",
    }
    return [f"{name}: {len(found[k])} {words}: {found[k][:4]}" for k, words in what.items() if found[k]]


def run_worker(app) -> None:
    db.session.remove()
    _, failures = contextvars.Context().run(work_queues, app)
    assert not failures, failures[0]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Welcome back").wait_for()
    page.wait_for_load_state("load")  # the stylesheet too: what shows depends on it


def check(page, name: str, width: str) -> list[str]:
    """Screenshot ``page`` into test-artifacts/pages/ and return what axe-core (serious and
    critical violations only), a page wider than its window, what it cuts off (``CUT_OFF``) and
    tables' boxes in the wrong place in the tab order (``WRONG_TAB_STOPS``) find wrong."""
    folder = ARTIFACTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    assert page.evaluate("typeof axe.run") == "function"
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wider = (
        [f"{name} ({width}) is {overflow[0]} px wide in a {overflow[1]} px window"]
        if overflow[0] > overflow[1]
        else []
    ) + cut_off(page, f"{name} ({width})")
    wider += [f"{name} ({width}): {box}" for box in page.evaluate(WRONG_TAB_STOPS)]
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return wider + [f"{name} ({width}) {v}" for v in violations]


def choose_brand(page, name: str, typed: str | None = None) -> None:
    """Type the start of a brand's name in a campaign form and pick it from the list."""
    page.get_by_label("Brand", exact=True).fill(typed or name[:5])
    page.locator(f'[role="option"][data-name="{name}"]').click()
    assert page.get_by_label("Brand", exact=True).input_value() == name
