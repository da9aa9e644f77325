"""The pages of held supports and stalls in a real browser: screenshots at phone and desktop
widths (test-artifacts/pages/), axe-core, and the shared-device page after a signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from campaign.extensions import db
from campaign.models import DecisionAction, Invalidation, Role, Stall, Support, Suspect, utcnow
from tests.browser.browsing import AXE, WIDTHS, check, log_in, shot
from tests.factories import make_campaign, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def held_world(live_app):
    app, base = live_app
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it with npm ci.")
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    make_user("moderator@example.org", role=Role.MODERATOR, name="Mo Moderator")
    petition = make_campaign(organiser=organiser, title="Fair wages for coffee farmers")
    now = utcnow()
    stall = Stall(
        campaign_id=petition.id,
        place="Saturday market, Main Square",
        volunteer="Vic Volunteer",
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(hours=3),
        created_by_id=organiser.id,
    )
    db.session.add(stall)
    db.session.flush()
    for n in range(6):
        db.session.add(
            Support(
                campaign_id=petition.id,
                email=f"person{n}@school.example",
                email_canonical=f"person{n}@school.example",
                name=f"Person Number {n}",
                country="GB",
                ip_address="198.51.100.7",
                ip_key="00000000000000000000ffffc6336407",
                suspect=Suspect.RATE_LIMIT.value if n else None,
                confirmed_at=None if n else now,
                stall_id=stall.id if n == 5 else None,
                suspect_confirmed_at=now if n % 2 else None,
                created_at=now - timedelta(minutes=n),
            )
        )
    db.session.add(
        Invalidation(
            action=DecisionAction.RELEASE,
            campaign_id=petition.id,
            held_reason="rate_limit",
            ip="198.51.100.0/24",
            ip_low="00000000000000000000ffffc6336400",
            ip_high="00000000000000000000ffffc63364ff",
            reason="a school assembly signing together",
            matched=12,
            invalidated=12,
            created_at=now,
            finished_at=now,
        )
    )
    db.session.commit()
    pages = {
        "organiser@example.org": {
            "stalls": f"/petitions/{petition.slug}/stalls",
            "supporters-held": f"/petitions/{petition.slug}/supporters",
        },
        "moderator@example.org": {
            "signing-fraud": "/moderation/signing",
            "held": "/moderation/signing/held",
            "release": f"/moderation/signing/release?campaign={petition.slug}&held_reason=rate_limit",
            "decisions": "/moderation/signing/log",
        },
    }
    token = stall.token
    db.session.remove()
    return base, pages, token


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_held_and_stall_pages_pass_axe(browser, held_world, width):
    base, pages, token = held_world
    problems = []
    context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/supports/stall/{token}")
    problems += check(page, "stall-signing", width)
    context.close()
    for email, more in pages.items():
        context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
        page = context.new_page()
        log_in(page, base, email)
        for name, path in more.items():
            page.goto(base + path)
            if name == "release":
                page.get_by_role("button", name="Preview").click()
                page.get_by_text("held supports match").wait_for()
            problems += check(page, name, width)
        context.close()
    assert problems == [], "\n".join(problems)


def test_the_tablet_at_the_stall_is_empty_for_the_next_person(browser, held_world):
    base, _, token = held_world
    context = browser.new_context(viewport=WIDTHS["phone"])
    page = context.new_page()
    page.goto(f"{base}/supports/stall/{token}")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email", exact=True).fill("grace@example.org")
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Why I support this (optional)").fill("For the farmers")
    shot(page, "stall-filled")
    page.get_by_role("button", name="Sign").click()
    page.get_by_text("ready for the next person").wait_for()
    shot(page, "stall-after-signing")
    assert page.get_by_label("Your name").input_value() == ""
    assert page.get_by_label("Email", exact=True).input_value() == ""
    assert page.get_by_label("Why I support this (optional)").input_value() == ""
    content = page.content()
    assert "Grace" not in content and "grace@example.org" not in content
    page.go_back()  # nothing of hers comes back from the history either
    assert "grace@example.org" not in page.content()
    context.close()
