"""A table that may scroll sideways (a ``.table-scroll`` box) is a named region keyboard users
can reach: focusable (``tabindex="0"``) so that the arrow keys scroll it, with ``role="region"``
and a name (axe's "scrollable-region-focusable"; screen readers list the region by its name).
Its page loads the script that takes a box whose table fits out of the tab order (the browser
tests check each box's place in a real browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from campaign.config import ROOT
from campaign.extensions import db
from campaign.mail import Email, outbox_folder
from campaign.models import (
    AbuseRule,
    CampaignState,
    Role,
    RuleAction,
    RuleKind,
    Topic,
    utcnow,
)
from campaign.services import stalls as stall_service
from campaign.tokens import make_token
from tests.factories import (
    SupportFactory,
    SupportRowFactory,
    add_signing_fraud_records,
    make_campaign,
    make_user,
)
from tests.helpers import login


class Page(HTMLParser):
    """The elements of a page with an id (their text) and its ``.table-scroll`` boxes (their
    attributes)."""

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self, html: str):
        super().__init__()
        self.boxes: list[dict] = []
        self.scripts: list[str] = []
        self.texts: dict[str, str] = {}
        self.open: list[tuple[str, str | None]] = []  # (tag, id) of the elements we are inside
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "table-scroll" in (attributes.get("class") or "").split():
            self.boxes.append(attributes)
        if tag == "script":
            self.scripts.append(attributes.get("src") or "")
        if tag in self.VOID:
            return
        element_id = attributes.get("id")
        if element_id is not None:
            self.texts[element_id] = ""
        self.open.append((tag, element_id))

    def handle_endtag(self, tag):
        while self.open:
            opened, _ = self.open.pop()
            if opened == tag:
                break

    def handle_data(self, data):
        for _, element_id in self.open:
            if element_id is not None:
                self.texts[element_id] += data

    def name_of(self, box: dict) -> str:
        """The box's accessible name: its aria-label, else the text of what aria-labelledby names."""
        if box.get("aria-label"):
            return box["aria-label"].strip()
        ids = (box.get("aria-labelledby") or "").split()
        return " ".join(" ".join(self.texts.get(i, "").split()) for i in ids).strip()


def seed() -> list[tuple[str, str, str, int]]:
    """A world in which every page with a ``.table-scroll`` box shows each of them; returns
    the pages: (who looks, name, path, how many boxes it shows)."""
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    moderator = make_user("moderator@example.org", role=Role.MODERATOR, name="Mo Moderator")
    petition = make_campaign(organiser=organiser, title="Fair wages for coffee farmers")
    SupportFactory.create_batch(3, campaign=petition, consents_to_updates=True)
    pending = make_campaign(organiser=organiser, state=CampaignState.PENDING, title="Waiting for review")
    pending.submitted_at = utcnow()
    stall = stall_service.open_stall(
        petition.id, organiser.id, place="Market square", volunteer="Vic Volunteer", opens_at=None, hours=4
    )
    for n in range(2):
        SupportRowFactory(
            campaign=petition,
            held=True,
            email=f"held{n}@school.example",
            name=f"Held Person {n}",
            ip_address="198.51.100.7",
            ip_key="00000000000000000000ffffc6336407",
            stall_id=stall.id if n else None,
        )
    for action, value in ((RuleAction.BLOCK, "spam.example"), (RuleAction.ALLOW, "school.example")):
        db.session.add(
            AbuseRule(kind=RuleKind.DOMAIN, action=action, value=value, created_by_id=moderator.id)
        )
    add_signing_fraud_records(petition, moderator)
    db.session.add(Topic(slug="climate", name="Climate", name_es="Clima"))
    db.session.commit()
    folder = outbox_folder()
    folder.mkdir(parents=True, exist_ok=True)
    email = Email(to="ada@example.org", subject="Welcome", text="Hello", html="<p>Hello</p>")
    sent = datetime(2026, 12, 3, 1, 46, tzinfo=UTC) - timedelta(days=1)
    (folder / "20261202T014600000000-0123abcd.eml").write_bytes(
        email.to_bytes("no-reply@groundswell.test", sent)
    )
    return [
        ("organiser", "campaign", f"/petitions/{petition.slug}", 1),
        ("organiser", "supporters", f"/petitions/{petition.slug}/supporters", 1),
        ("moderator", "queue", "/moderation/", 1),
        ("moderator", "topics", "/moderation/topics", 1),
        ("moderator", "signing", "/moderation/signing", 3),
        ("moderator", "rules", "/moderation/signing/rules", 2),
        ("moderator", "held", "/moderation/signing/held", 5),
        ("moderator", "decisions", "/moderation/signing/log", 1),
        ("visitor", "outbox", "/dev/outbox", 1),
        ("visitor", "privacy", "/privacy/" + make_token("privacy", {"e": "s0@example.org"}), 1),
    ]


def test_every_table_that_may_scroll_is_a_named_region_keyboard_users_reach(
    app, client, run_jobs, monkeypatch
):
    pages = seed()
    run_jobs()
    clients = {"visitor": client, "organiser": app.test_client(), "moderator": app.test_client()}
    login(clients["organiser"], "organiser@example.org")
    login(clients["moderator"], "moderator@example.org")
    # The templates the pages use, the ones they import and include too.
    rendered: set[str] = set()
    get_template = app.jinja_env.get_template

    def recording(name, *args, **kwargs):
        rendered.add(name)
        return get_template(name, *args, **kwargs)

    monkeypatch.setattr(app.jinja_env, "get_template", recording)
    problems = []
    for who, name, path, count in pages:
        for language in ("en", "es"):
            response = clients[who].get(path, headers={"Accept-Language": language})
            assert response.status_code == 200, (name, response.status_code)
            page = Page(response.get_data(as_text=True))
            assert len(page.boxes) == count, f"{name}: {len(page.boxes)} .table-scroll boxes, not {count}"
            # Once, however many boxes: it takes a box whose table fits out of the tab order.
            loads = [src for src in page.scripts if src.endswith("/js/scroll_regions.js")]
            if len(loads) != 1:
                problems.append(f"{name} ({language}) loads scroll_regions.js {len(loads)} times")
            for box in page.boxes:
                where = f"{name} ({language}): {box}"
                if box.get("tabindex") != "0":
                    problems.append(f"{where} is not focusable")
                if box.get("role") != "region":
                    problems.append(f"{where} is not a region")
                if not page.name_of(box):
                    problems.append(f"{where} has no name")
    assert problems == [], "\n".join(problems)
    # Every template with such a box (the scroll_region macro's, or one written out) was
    # rendered above (a new one is added to seed()).
    with_boxes = {
        path.relative_to(ROOT / "templates").as_posix()
        for path in (ROOT / "templates").rglob("*.html")
        if "{% call scroll_region(" in path.read_text() or "table-scroll" in path.read_text()
    }
    assert with_boxes - rendered == set(), "show these templates' boxes in seed()"
