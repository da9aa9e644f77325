"""The emails supporters and members get fit a phone: opened in a 390 px window, none is
wider than the window (a link printed out wraps, a long word in a title wraps, the share
kit's buttons wrap). Each is shot at 390 and 1280 px into test-artifacts/emails/."""

from campaign.extensions import db
from campaign.jobs.accounts import send_password_reset, send_verification_email
from campaign.jobs.notifications import TOPICS
from campaign.jobs.supports import claim_owed_confirmations, confirmation_emails
from campaign.models import Support
from campaign.services import supports as service
from tests.browser.browsing import WIDTHS
from tests.factories import an_object_per_topic, make_campaign, make_user
from tests.helpers import ARTIFACTS

#: A title with a word longer than a phone is wide (a hashtag, say).
LONG_TITLE = "Northwind Coffee: a living income #PayTheFarmersWhoGrowOurBeansALivingIncome"


def _emails(outbox) -> dict[str, str]:
    """The HTML part of each kind of email a supporter or a member gets: every notification
    topic, the confirmation email (in Spanish, the longer words), the verification and the
    password reset emails."""
    found = {}
    objects = an_object_per_topic(make_user("member@example.org"))
    for name, topic in TOPICS.items():
        obj = objects[name]
        support = (
            None
            if topic.organiser
            else db.session.execute(db.select(Support).filter_by(campaign_id=topic.audience(obj).id))
            .scalars()
            .first()
        )
        found[f"notice-{name}"] = topic.email(obj, support).html
    campaign = make_campaign(title=LONG_TITLE)
    service.add_support(campaign.id, name="Ana", email="ana@example.org", country="ES", locale="es")
    _, rows = claim_owed_confirmations(100)
    rows = [row for row in rows if row.campaign_id == campaign.id]
    [(_key, email)] = confirmation_emails(rows, {row.id: f"confirm-support:{row.id}:1" for row in rows})
    found["confirm-support-es"] = email.html
    user = make_user("new.member@example.org", verified=False)
    assert send_verification_email(user.id, "request-1")
    assert send_password_reset(user.id, "request-2")
    verify, reset = outbox()[-2:]
    found["verify"] = verify.get_body(("html",)).get_content()
    found["reset"] = reset.get_body(("html",)).get_content()
    return found


def test_every_email_fits_a_phone(app, outbox, browser):
    emails = _emails(outbox)
    assert len(emails) == len(TOPICS) + 3
    folder = ARTIFACTS / "emails"
    folder.mkdir(parents=True, exist_ok=True)
    problems = []
    for viewport in WIDTHS.values():
        page = browser.new_page(viewport=viewport)
        try:
            for name, html in emails.items():
                page.set_content(html)
                wide = page.evaluate("document.documentElement.scrollWidth")
                if wide > viewport["width"]:
                    problems.append(f"{name} is {wide} px wide in a {viewport['width']} px window")
                page.screenshot(path=str(folder / f"{name}-{viewport['width']}.png"), full_page=True)
        finally:
            page.close()
    assert not problems, problems
