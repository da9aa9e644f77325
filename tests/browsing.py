"""Helpers for the browser tests (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import contextvars
from pathlib import Path

from campaign.extensions import db
from tests.conftest import work_queues
from tests.factories import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def run_worker(app) -> None:
    db.session.remove()
    _, failures = contextvars.Context().run(work_queues, app)
    assert not failures, failures[0]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)



def log_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Welcome back").wait_for()


def choose_brand(page, name: str, typed: str | None = None) -> None:
    """Type the start of a brand's name in a campaign form and pick it from the list."""
    page.get_by_label("Brand", exact=True).fill(typed or name[:5])
    page.locator(f'[role="option"][data-name="{name}"]').click()
    assert page.get_by_label("Brand", exact=True).input_value() == name
