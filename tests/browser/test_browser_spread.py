"""In a real browser: an organiser uploads a picture and sees it on the card, the page and
the share card; a supporter is offered copy and share on the thank-you and confirmed pages."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import expect

from campaign.extensions import db
from campaign.models import CampaignKind
from tests.browser.browsing import log_in, run_worker, shot
from tests.factories import make_campaign, make_user
from tests.helpers import link_in, picture_bytes, read_outbox

pytestmark = pytest.mark.browser

WIDTHS = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}


def loaded(image) -> bool:
    """The picture was fetched and decoded (a lazy one once it is scrolled into view)."""
    image.scroll_into_view_if_needed()
    image.page.wait_for_function("img => img.complete", arg=image.element_handle())
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_an_organiser_uploads_a_picture_and_sees_it_everywhere(browser, live_app, tmp_path):
    app, base = live_app
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    petition = make_campaign(
        CampaignKind.PETITION, organiser=organiser, title="Fair pay for the people who pick our coffee"
    )
    slug, email = petition.slug, organiser.email
    db.session.remove()
    photo = tmp_path / "pickers.jpg"
    photo.write_bytes(picture_bytes(color=(200, 80, 40), gps=True))
    bad = tmp_path / "drawing.svg"
    bad.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')

    context = browser.new_context(viewport=WIDTHS["1280"])
    page = context.new_page()
    log_in(page, base, email)
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_role("link", name="Add a picture").click()
    # A bad file first: refused with its message.
    page.get_by_label("Picture (JPEG, PNG or WebP, up to 10 MB)").set_input_files(str(bad))
    page.get_by_label("Describe the picture").fill("Pickers at dawn")
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("not a picture we can use").first.wait_for()
    shot(page, "picture-refused-1280")
    page.get_by_label("Picture (JPEG, PNG or WebP, up to 10 MB)").set_input_files(str(photo))
    page.get_by_label("Describe the picture").fill("Pickers at dawn in a coffee field")
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("The picture is saved.").wait_for()
    picture = page.get_by_role("img", name="Pickers at dawn in a coffee field")
    assert loaded(picture)
    shot(page, "picture-page-1280")
    context.close()

    for width, viewport in WIDTHS.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{base}/campaigns/")
        card = page.locator(".campaign-card").filter(has_text="Fair pay for the people")
        assert loaded(card.get_by_role("img", name="Pickers at dawn in a coffee field"))
        shot(page, f"picture-card-{width}")
        page.goto(f"{base}/petitions/{slug}")
        assert loaded(page.get_by_role("img", name="Pickers at dawn in a coffee field"))
        shot(page, f"picture-campaign-{width}")
        context.close()

    # The share card (the page's Open Graph image) is composed from the picture.
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/petitions/{slug}")
    og = page.locator('meta[property="og:image"]').get_attribute("content")
    response = page.request.get(og)
    card = Image.open(io.BytesIO(response.body())).convert("RGB")
    assert card.size == (1200, 630)
    red, green, _blue = ImageStat.Stat(card.crop((0, 300, 1200, 340))).mean
    assert red > green  # the picture's orange shows through, not the plain green card
    page.goto(og)
    shot(page, "picture-share-card")
    context.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_thank_you_and_confirmed_pages_offer_copy_and_share(browser, live_app, tmp_path, width):
    app, base = live_app
    petition = make_campaign(CampaignKind.PETITION, title="Fair pay for pickers")
    slug = petition.slug
    db.session.remove()
    context = browser.new_context(viewport=WIDTHS[width])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email", exact=True).fill("ada@example.org")
    page.get_by_label("Country").select_option("GB")
    page.get_by_role("button", name="Sign").first.click()
    page.get_by_role("heading", name="Now ask three friends").wait_for()
    link = page.get_by_label("Your link").input_value()
    assert link.startswith(f"{base}/petitions/{slug}?ref=link-")
    copy = page.get_by_role("button", name="Copy link")
    # The button is shown by the page's script once it runs (without script there is nothing
    # to copy with): wait for it rather than read it at once.
    expect(copy).to_be_visible()
    copy.click()
    page.get_by_text("Link copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    # The share sheet is offered exactly where the browser has one.
    has_share = page.evaluate("typeof navigator.share === 'function'")
    assert page.get_by_role("button", name="Share…").is_visible() == has_share
    assert page.get_by_role("link", name="WhatsApp").get_attribute("href").startswith("https://wa.me/?text=")
    shot(page, f"share-thanks-{width}")

    run_worker(app)
    [message] = read_outbox(tmp_path / "outbox")
    page.goto(base + link_in(message, "/supports/confirm/"))
    page.get_by_role("heading", name="Now ask three friends").wait_for()
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    assert page.get_by_label("Your link").input_value() == link
    shot(page, f"share-confirmed-{width}")
    context.close()

    # Without script (and without the signer's session, so campaign.supports.lane answers):
    # no copy button, but the link is there to select.
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=False)
    page = context.new_page()
    page.goto(base + link_in(message, "/supports/confirm/"))
    page.get_by_role("heading", name="Already confirmed").wait_for()
    assert not page.get_by_role("button", name="Copy link").is_visible()
    field = page.get_by_label("Your link")
    assert field.is_visible() and field.input_value() == link
    shot(page, f"share-confirmed-again-{width}")
    context.close()


def test_reasons_are_read_liked_once_and_reported(browser, live_app):
    app, base = live_app
    from campaign.models import Support, utcnow

    petition = make_campaign(CampaignKind.PETITION, title="Fair pay for pickers")
    for n, words in enumerate(
        (
            "My family farmed coffee for three generations.",
            "Nobody should work for less than a living wage.",
            "I drink this coffee every day and want it fair.",
        )
    ):
        db.session.add(
            Support(
                campaign_id=petition.id,
                email=f"s{n}@example.org",
                email_canonical=f"s{n}@example.org",
                name=f"Supporter {n}",
                country="GB",
                comment=words,
                confirmed_at=utcnow(),
            )
        )
    member = make_user("fan@example.org")
    slug, email = petition.slug, member.email
    db.session.commit()
    db.session.remove()

    context = browser.new_context(viewport=WIDTHS["390"])
    page = context.new_page()
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_role("heading", name="Why people support this").wait_for()
    assert "three generations" in page.inner_text("main")
    log_in(page, base, email)
    page.goto(f"{base}/petitions/{slug}")
    page.get_by_role("link", name="Read all 3 reasons").click()
    page.get_by_role("button", name="Like the reason of Supporter 0").click()
    page.get_by_text("You like this reason.").wait_for()
    assert page.get_by_role("button", name="Like the reason of Supporter 0").count() == 0
    page.get_by_role("link", name="Most liked").click()
    page.wait_for_url("**sort=liked**")
    first = page.locator(".reason").first
    assert "three generations" in first.inner_text() and "1 like" in first.inner_text()
    item = page.locator(".reason-list > li").filter(has_text="living wage")
    item.locator("summary").click()
    item.get_by_label("What is wrong with it? (optional)").fill("Off topic")
    item.get_by_role("button", name="Report to the moderators").click()
    page.get_by_text("a moderator will look at this reason").wait_for()
    shot(page, "reasons-390")
    context.close()
