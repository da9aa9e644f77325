"""The exhaustive accessibility walk, generated from ``app.url_map`` like the security walk.

Every GET route that renders HTML is opened as every role that may see it, on a seeded world
that fills every panel (tests/browser/a11y_world.py), at phone and desktop widths and in English and
Spanish. Each page gets a screenshot in test-artifacts/pages/ and an axe-core check (the npm
package, served from node_modules); the walk fails on any serious or critical violation
(colour contrast included), on a page wider than the window, on what the window cuts off (a
table cell or form control past its right edge, a select showing its choice cut short; see
``browsing.CUT_OFF``), and on a page that did not open as itself
(an error or a redirect). A route it does not open is in LEFT_OUT with the reason,
and a new route that is in neither fails ``test_every_get_route_is_walked_or_left_out``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from campaign.extensions import db
from tests.browser.a11y_world import seed
from tests.browser.browsing import ARTIFACTS, AXE, cut_off
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
LANGUAGES = {"en": "en-GB", "es": "es-ES"}
KINDS = ("petitions", "boycotts", "buycotts", "proposals")
#: Who each role is in the seeded world (None: not logged in).
ROLES = {
    "visitor": None,
    "supporter": "ana@example.org",
    "organiser": "organiser@example.org",
    "moderator": "moderator@example.org",
    "brand_member": "sam@example.org",
}

#: GET routes the walk does not open, and why. {kind} stands for each kind's blueprint.
LEFT_OUT = {
    "static": "files, not pages",
    "api.campaigns": "JSON",
    "api.campaign": "JSON",
    "api.count": "JSON",
    "proposals.similar": "JSON for the similar-proposals script",
    "supports.form_token": "JSON for the deferred CSRF script",
    "{kind}.supporters_csv": "CSV download",
    "{kind}.contacts_csv": "CSV download",
    "deliveries.download": "PDF and CSV of a delivery",
    "privacy.download": "JSON of a person's data",
    "{kind}.share_png": "PNG share card",
    "{kind}.updates_feed": "Atom feed",
    "main.victories_feed": "Atom feed",
    "campaigns.by_slug": "redirects to the kind's own page ({kind}.show), walked",
    "i18n.set_language": "redirects back after setting the language cookie",
    "main.health": "plain text for the load balancer's health check",
    "dev.message_html": "an email's HTML part, shown in the outbox message page's frame (walked)",
    "campaigns.similar": "JSON for the similar-campaigns script",
    "campaigns.brands": "JSON for the brand picker",
    "topics.feed": "Atom feed",
    "topics.show": "needs a topic: tests/browser/test_search_browser.py walks a topic page",
    "media.file": "image files",
    "{kind}.qr_png": "PNG QR code",
    "{kind}.poster_pdf": "PDF poster",
    "deliveries.keys": "JSON key list",
    "deliveries.log_json": "JSON log",
    "deliveries.log_atom": "Atom feed",
    "deliveries.log_head": "JSON tree head",
    "deliveries.log_consistency": "JSON proof",
    "deliveries.verifier_script": "Python script",
    "deliveries.receipt_json": "JSON receipt",
    "deliveries.my_receipt_json": "JSON receipt",
    # Pages whose data the seeded world does not hold; each has its own axe walk at both widths.
    "deliveries.receipt": "needs a delivered round's receipt: tests/browser/test_proofs_browser.py",
    "deliveries.my_receipt": "needs a delivered round's receipt: tests/browser/test_proofs_browser.py",
    "supports.stall": "needs an open stall: tests/browser/test_held_browser.py",
    "{kind}.stalls": "tests/browser/test_held_browser.py walks the stalls page",
    "moderation.held": "tests/browser/test_held_browser.py walks it with held supports",
    "moderation.release": "tests/browser/test_held_browser.py walks its preview",
    "moderation.decisions": "tests/browser/test_held_browser.py walks the audit log",
}


@dataclass(frozen=True)
class Page:
    endpoint: str
    role: str
    name: str
    url: str
    status: int = 200


def plan(world: dict) -> list[Page]:
    """Every page of the walk: (endpoint, role, name for the screenshot, url)."""
    t = world["tokens"]
    pages = [
        Page("main.home", "visitor", "home", "/"),
        Page("main.victories", "visitor", "victories", "/victories"),
        Page("campaigns.browse", "visitor", "browse", "/campaigns/"),
        Page("campaigns.browse", "visitor", "browse-search", "/campaigns/?q=coffee&kind=petition"),
        Page("campaigns.choose_kind", "visitor", "choose-kind", "/campaigns/new"),
        Page("topics.index", "visitor", "topics", "/topics/"),
        Page("brands.index", "visitor", "brands", "/brands/"),
        Page("brands.show", "visitor", "brand", f"/brands/{world['brand']}"),
        Page("brands.show", "visitor", "brand-group", f"/brands/{world['group']}"),
        Page("brands.show", "visitor", "brand-certified", f"/brands/{world['fair']}"),
        Page("brands.roadmap", "visitor", "roadmap", f"/brands/{world['brand']}/roadmap"),
        Page("deliveries.verify", "visitor", "verify", "/verify"),
        Page(
            "deliveries.verify",
            "visitor",
            "verify-result",
            f"/verify?digest={world['digest']}&seal={world['seal']}",
        ),
        Page("auth.login", "visitor", "login", "/login"),
        Page("auth.signup", "visitor", "signup", "/signup"),
        Page("auth.check_email", "visitor", "check-email", "/signup/check-email"),  # after signing up
        Page("auth.request_reset", "visitor", "reset", "/reset"),
        Page("auth.resend_verification", "visitor", "resend", "/verify-email"),
        Page("privacy.request_link", "visitor", "privacy-request", "/privacy/"),
        Page("dev.outbox", "visitor", "outbox", "/dev/outbox"),
        Page("dev.message", "visitor", "outbox-message", f"/dev/outbox/{world['email']}"),
        Page(
            "supports.thanks",
            "visitor",
            "thanks",  # after signing
            f"/supports/thanks/{world['campaigns']['petition'][1]}",
        ),
        # Links from emails, each with a valid token.
        Page("supports.confirm", "visitor", "confirmed", f"/supports/confirm/{t['confirm']}"),
        Page("supports.withdraw", "visitor", "withdraw", f"/supports/withdraw/{t['withdraw']}"),
        Page("supports.unsubscribe", "visitor", "unsubscribe", f"/supports/unsubscribe/{t['unsubscribe']}"),
        Page("deliveries.show", "visitor", "delivery", f"/deliveries/{t['delivery']}"),
        Page(
            "deliveries.verdict",
            "visitor",
            "verdict",
            f"/responses/{world['response_id']}/verdict/{t['verdict']}",
        ),
        Page("privacy.show", "visitor", "privacy", f"/privacy/{t['privacy']}"),
        Page("auth.verify", "visitor", "verify-email", f"/verify-email/{t['verify']}"),
        Page("auth.reset_password", "visitor", "reset-password", f"/reset/{t['reset']}"),
        Page("brands.verify_claim", "visitor", "verify-claim", f"/brands/claims/verify/{t['claim']}"),
        Page("accounts.unsubscribe", "visitor", "member-unsubscribe", f"/account/unsubscribe/{t['member']}"),
        Page("supports.withdraw", "visitor", "token-error", "/supports/withdraw/forged", 400),
        Page("", "visitor", "not-found", "/no-such-page", 404),  # no route: the error page
        # A member who supports with an account.
        Page("accounts.profile", "supporter", "account", "/account/"),
        Page("accounts.pledges", "supporter", "pledges", "/account/pledges"),
        Page("accounts.settings", "supporter", "settings", "/account/settings"),
        Page("brands.suggest", "supporter", "suggest-brand", "/brands/suggest"),
        Page("brands.claim", "supporter", "claim-brand", f"/brands/{world['fair']}/claim"),
        Page("accounts.profile", "organiser", "account-organiser", "/account/"),
        Page("accounts.profile", "brand_member", "account-brand-member", "/account/"),
        # The moderator.
        Page("moderation.queue", "moderator", "moderation", "/moderation/"),
        Page("moderation.review", "moderator", "review", f"/moderation/campaigns/{world['pending_review']}"),
        Page("moderation.signing", "moderator", "signing", "/moderation/signing"),
        Page("moderation.rules", "moderator", "rules", "/moderation/signing/rules"),
        Page("moderation.invalidate", "moderator", "invalidate", "/moderation/signing/invalidate"),
        Page("brands.new", "moderator", "new-brand", "/brands/new"),
        Page("moderation.topics", "moderator", "topics-admin", "/moderation/topics"),
        Page("brands.edit", "moderator", "edit-brand", f"/brands/{world['suggested']}/edit"),
        # The brand member.
        Page("brands.inbox", "brand_member", "inbox", f"/brands/{world['brand']}/inbox"),
        Page("brands.logo", "brand_member", "logo", f"/brands/{world['brand']}/logo"),
    ]
    for kind, (bp, slug) in world["campaigns"].items():
        for role in ROLES:
            pages.append(Page(f"{bp}.show", role, f"{kind}-as-{role}", f"/{bp}/{slug}"))
        pages += [
            Page(f"{bp}.embed", "visitor", f"{kind}-embed", f"/{bp}/{slug}/embed"),
            Page(f"{bp}.new", "organiser", f"{kind}-new", f"/{bp}/new"),
            Page(f"{bp}.post_update", "organiser", f"{kind}-update", f"/{bp}/{slug}/updates/new"),
            Page(f"{bp}.declare_victory", "organiser", f"{kind}-victory", f"/{bp}/{slug}/victory"),
            Page(f"{bp}.supporters", "organiser", f"{kind}-supporters", f"/{bp}/{slug}/supporters"),
            Page(f"{bp}.reasons", "visitor", f"{kind}-reasons", f"/{bp}/{slug}/reasons"),
            Page(f"{bp}.picture", "organiser", f"{kind}-picture", f"/{bp}/{slug}/picture"),
            Page(f"{bp}.launch_kit", "organiser", f"{kind}-launch-kit", f"/{bp}/{slug}/launch-kit"),
        ]
    for kind, (bp, slug) in world["drafts"].items():
        pages += [
            Page(f"{bp}.show", "organiser", f"{kind}-draft", f"/{bp}/{slug}"),
            Page(f"{bp}.edit", "organiser", f"{kind}-edit", f"/{bp}/{slug}/edit"),
        ]
    pages += [
        Page("petitions.show", "visitor", "petition-won", f"/petitions/{world['won']}"),
        Page("petitions.show", "organiser", "petition-won-as-organiser", f"/petitions/{world['won']}"),
        Page("boycotts.show", "organiser", "boycott-rejected", f"/boycotts/{world['rejected']}"),
    ]
    return pages


def expand(endpoint: str) -> set[str]:
    return {endpoint.format(kind=k) for k in KINDS}


# ---------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(live_module_app):
    """One seeded world for the module, served by the session's live server."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it with npm ci.")
    app, base = live_module_app
    started = time.monotonic()
    world = seed(app)
    print(f"seeded in {time.monotonic() - started:.1f} s")
    db.session.remove()
    return app, base, world


def test_every_get_route_is_walked_or_left_out(site):
    app, _, world = site
    walked = {p.endpoint for p in plan(world) if p.endpoint}
    left_out = set().union(*(expand(e) for e in LEFT_OUT))
    gets = {r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods}
    assert gets - walked - left_out == set(), "walk these routes, or say in LEFT_OUT why not"
    assert walked & left_out == set(), "walked and left out at once"
    assert (walked | left_out) - gets == set(), "these routes no longer exist"
    assert EVERY_LAYOUT - {p.name for p in plan(world)} == set(), "pages of EVERY_LAYOUT not in the plan"


#: axe's rules (those on by default) that can find a serious or critical problem (each rule's
#: impact is fixed); the moderate and minor ones are not run, as the walk would not fail on them.
SERIOUS_RULES = (
    "axe._audit.rules.filter(r => r.enabled && ['serious', 'critical'].includes(r.impact)).map(r => r.id)"
)
START_AXE = """rules => { window.__violations = axe.run(document, {
    resultTypes: ['violations'], runOnly: {type: 'rule', values: rules}}).then(r => r.violations
    .filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))); }"""
#: Pages checked side by side, each in its own tab: axe runs in one while the other is
#: screenshotted or checked (two renderer processes on two cores).
LANES = 2
#: Each role's pages are walked in this many tests (every PARTS-th page from each start).
PARTS = 2


def start_check(page, name: str, screenshot: bool, axe: bool = True) -> list[str]:
    """Screenshot the page as it is, measure its width, look for what the window cuts off
    (``CUT_OFF``) and (``axe``) start axe on it; the problems seen so far (``finish_check`` gives axe's)."""
    if screenshot:
        folder = ARTIFACTS / "pages"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True, animations="disabled", caret="hide")
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if axe:
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        page.evaluate(START_AXE, page.evaluate(SERIOUS_RULES))
    else:
        page.evaluate("window.__violations = []")
    wider = [f"{name}: {width} px wide in a {window} px window"] if width > window else []
    return wider + cut_off(page, name)


def finish_check(page, name: str) -> list[str]:
    return [f"{name}: {v}" for v in page.evaluate("window.__violations")]


def check(page, name: str) -> list[str]:
    """Screenshot ``page`` into test-artifacts/pages/ and return what axe and its width show."""
    return start_check(page, name, True) + finish_check(page, name)


def sign_first(page, base: str, world: dict, language: str) -> None:
    """The thank-you page is the answer to the support form: sign the petition first."""
    bp, slug = world["campaigns"]["petition"]
    page.goto(f"{base}/{bp}/{slug}")
    page.locator("#support #name").fill("Walker Through")
    page.locator("#support #email").fill(f"walker-{language}@example.org")
    page.locator("#support #country").select_option("FR")
    page.locator("#support [type=submit]").click()


def sign_up_first(page, base: str, world: dict, language: str) -> None:
    """The check-your-email page answers the sign-up form."""
    page.goto(base + "/signup")
    page.locator("#name").fill("Walker Through")
    page.locator("#email").fill(f"walker-{language}@example.org")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.locator("form [type=submit]").last.click()


BEFORE = {"thanks": sign_first, "check-email": sign_up_first}


def new_tab(browser, base: str, email: str | None, language: str):
    context = browser.new_context(viewport=WIDTHS["phone"], bypass_csp=True, locale=LANGUAGES[language])
    if language == "en":  # axe checks every page in English (walk): in each as it loads
        context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.set_default_timeout(60_000)
    if email:
        log_in_any(page, base, email)
    return page


KIND_NAMES = ("petition", "boycott", "buycott", "proposal")
#: Pages that axe also checks at desktop width and in Spanish: one of each layout, with the
#: shared header, menu and footer on every one (every page is checked by axe on a phone in
#: English, and opened in both languages at both widths; see ``walk``).
EVERY_LAYOUT = {
    "home",
    "browse-search",
    "brand-group",
    "roadmap",
    "verify-result",
    "signup",
    "thanks",
    "confirmed",
    "delivery",
    "verdict",
    "not-found",
    "account",
    "settings",
    "moderation",
    "review",
    "signing",
    "inbox",
    "outbox-message",
    *(f"{kind}-as-{role}" for kind in KIND_NAMES for role in ("visitor", "organiser")),
    "petition-new",
    "petition-supporters",
    "petition-launch-kit",
    "petition-embed",
    "petition-won",
    "boycott-edit",
}


def walk(
    browser, base: str, world: dict, language: str, role: str, part: int, screenshots: bool
) -> list[str]:
    """Open part ``part`` (of PARTS) of the pages of the plan that ``role`` sees, in
    ``language``: each must open as itself, in that language, and fit the window at both
    widths. axe checks every page on a phone in English, and the pages of EVERY_LAYOUT at both
    widths in both languages. Returns the problems found."""
    problems = []
    pages = plan(world)
    email = ROLES[role]
    # A form answered first (signing, signing up) changes the tab's session: those last.
    mine = [p for p in pages if p.role == role][part::PARTS]
    mine.sort(key=lambda p: p.name in BEFORE)
    tabs = [new_tab(browser, base, email, language) for _ in range(min(LANES, len(mine)))]
    for i in range(0, len(mine), len(tabs)):
        opened = []
        for tab, p in zip(tabs, mine[i : i + len(tabs)], strict=False):
            tab.set_viewport_size(WIDTHS["phone"])
            if p.name in BEFORE:
                BEFORE[p.name](tab, base, world, language)
                tab.wait_for_url(f"**{p.url}")
                status = 200
            else:
                status = tab.goto(base + p.url).status
            where = urlsplit(tab.url).path
            if tab.evaluate("document.documentElement.lang") != language:
                problems.append(f"{p.name} ({role}): not in {language}")
            if status != p.status or where != urlsplit(base + p.url).path:
                problems.append(f"{p.name} ({role}): {status} at {where}")
            else:
                opened.append((tab, p))
        for width, size in WIDTHS.items():
            checked = []
            for tab, p in opened:
                tab.set_viewport_size(size)
                axe = p.name in EVERY_LAYOUT or (language == "en" and width == "phone")
                problems += start_check(tab, f"{p.name}-{language}-{width}", screenshots, axe)
                checked.append((tab, p))
            for tab, p in checked:
                problems += finish_check(tab, f"{p.name}-{language}-{width}")
    for tab in tabs:
        tab.context.close()
    return problems


def log_in_any(page, base: str, email: str) -> None:
    """Log in whatever the page's language (the fields keep their ids)."""
    page.goto(base + "/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form [type=submit]").last.click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_page_passes_axe_at_both_widths(browser, site, language, role, part):
    """Both widths in each language (axe as ``walk`` says); the screenshots (both widths) are
    taken in English. One test per language, role and part, so that the test processes share
    the walk (each seeds the same world once)."""
    _, base, world = site
    started = time.monotonic()
    problems = walk(browser, base, world, language, role, part, screenshots=language == "en")
    walked = len([p for p in plan(world) if p.role == role][part::PARTS])
    print(f"walked {walked} pages as {role} in {language} in {time.monotonic() - started:.1f} s")
    assert walked and problems == [], "\n".join(problems)


def test_on_a_phone_the_call_to_action_is_above_the_fold_and_leads_to_the_form(browser, site):
    """At 390x844 each kind's page shows title, count and goal, and its "Sign"/"Pledge"/
    "Endorse" button without scrolling; the button takes the visitor to the form."""
    _, base, world = site
    # Without smooth scrolling, so that "scrolled to the form" is measured when it is done.
    context = browser.new_context(viewport=WIDTHS["phone"], reduced_motion="reduce")
    page = context.new_page()
    for kind, (bp, slug) in world["campaigns"].items():
        page.goto(f"{base}/{bp}/{slug}")
        cta = page.locator(".campaign-status .cta a")
        box = cta.bounding_box()
        assert box and box["y"] + box["height"] <= 844, (kind, box)
        for earlier in ("h1", ".campaign-status .progress", ".campaign-status .progress-text"):
            assert page.locator(earlier).first.bounding_box()["y"] < box["y"], (kind, earlier)
        # The demand follows right after the count, before the story.
        demand = page.locator(".campaign-body > .demand").first
        if demand.count():
            assert demand.bounding_box()["y"] > box["y"], kind
        cta.click()
        form = page.locator("form#support")
        page.wait_for_function("location.hash === '#support'")
        assert form.bounding_box()["y"] < 844, kind  # scrolled to the form
        page.keyboard.press("Tab")  # and the next stop is inside it
        assert page.evaluate("document.activeElement.closest('form#support') !== null"), kind
    context.close()


def test_the_menu_opens_by_keyboard_on_a_phone_and_is_a_row_on_a_desktop(browser, site):
    _, base, _ = site
    context = browser.new_context(viewport=WIDTHS["phone"])
    page = context.new_page()
    page.goto(base + "/campaigns/")
    nav = page.get_by_role("navigation", name="Main")
    assert not nav.get_by_role("link", name="Brands").is_visible()
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < 90, header  # one row, not three
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Campaigns"
    nav.get_by_role("link", name="Brands").click()
    page.wait_for_url("**/brands/")
    assert not nav.get_by_role("link", name="Brands").is_visible()  # closed on the new page
    page.set_viewport_size(WIDTHS["desktop"])
    assert nav.get_by_role("link", name="Brands").is_visible()
    assert not page.locator(".nav-menu > summary").is_visible()
    assert page.locator(".site-header").bounding_box()["height"] < 90
    context.close()


# ---------------------------------------------------------------------------- by keyboard alone


def test_a_visitor_signs_with_the_keyboard_alone(browser, site):
    _, base, world = site
    bp, slug = world["campaigns"]["petition"]
    context = browser.new_context(viewport=WIDTHS["phone"])
    page = context.new_page()
    page.goto(f"{base}/{bp}/{slug}")
    # The skip link is the first stop and takes focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    # The call to action comes before the story, and takes focus on to the form.
    tab_to(page, "Sign", FOCUSED_TEXT, limit=10)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page) == "name"
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


def tab_to(
    page, wanted: str, script: str = "document.activeElement.id", limit: int = 80, key: str = "Tab"
) -> None:
    """Press Tab (or ``key``) until ``script`` gives ``wanted`` about the focused element."""
    for _ in range(limit):
        page.keyboard.press(key)
        if focused(page, script) == wanted:
            # Where focus is must show: the outline app.css gives :focus-visible.
            outline = focused(
                page, "(s => s.outlineStyle + ' ' + s.outlineWidth)(getComputedStyle(document.activeElement))"
            )
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
    _, base, _ = site
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
        if (
            focused(
                page,
                "document.getElementById(document.activeElement"
                ".getAttribute('aria-activedescendant')).dataset.name",
            )
            == "Northwind Coffee"
        ):
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
    if page.locator("#topics-0").count():  # topics are offered once moderators keep some
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
    problems = check(page, "organiser-submitted-desktop")
    context.close()
    assert problems == [], "\n".join(problems)


def test_a_brand_member_answers_with_the_keyboard_alone(browser, site):
    _, base, world = site
    context = browser.new_context(viewport=WIDTHS["desktop"], bypass_csp=True)
    page = context.new_page()
    log_in_by_keyboard(page, base, "sam@example.org")
    page.goto(f"{base}/brands/{world['brand']}/inbox")
    # The boycott was delivered two days ago and is not answered yet.
    tab_to(page, "A boycott about fair coffee prices", FOCUSED_TEXT)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Answer in public").wait_for()
    tab_to(page, "author_name")
    assert focused(page, FOCUSED_VALUE) == "Sam Lee"
    page.keyboard.press("Tab")  # into the stance group; arrow keys choose within it
    assert focused(page, "document.activeElement.type") == "radio"
    tab_to(
        page,
        "Under discussion",
        "document.querySelector('input[name=stance]:checked')?.labels[0].textContent.trim()",
        limit=6,
        key="ArrowDown",
    )
    assert focused(page, "document.activeElement.checked") is True
    page.keyboard.press("Tab")
    assert focused(page) == "body"
    page.keyboard.type("We will publish our farm-gate prices in our next sourcing report.")
    tab_to(page, "Publish the answer", FOCUSED_VALUE)
    page.keyboard.press("Enter")
    page.get_by_text("Your answer is published on the campaign page").wait_for()
    assert "/boycotts/" in page.url
    page.get_by_text("We will publish our farm-gate prices").wait_for()
    problems = check(page, "brand-answered-desktop")
    context.close()
    assert problems == [], "\n".join(problems)
