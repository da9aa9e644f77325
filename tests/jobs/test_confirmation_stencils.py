"""The confirmation dispatcher renders each campaign's email once per language, with blanks
for what is each reader's own (their link, the code in their share links), and fills the
blanks in for each reader: byte for byte the message that rendering the email for that
reader alone gives, for every kind of support (a signature, a boycott or buycott pledge, an
endorsement), a member's and a guest's, in each language, with titles and names that need
escaping and are not ASCII. A template that a render with blanks cannot stand for has its
emails rendered one by one."""

from datetime import UTC, datetime

import pytest
from itsdangerous.timed import TimestampSigner

from campaign.extensions import db
from campaign.jobs import supports as dispatcher
from campaign.jobs.supports import claim_owed_confirmations, confirmation_emails
from campaign.mail import compiled_templates
from campaign.models import CampaignKind, Support, User
from campaign.services import supports as service
from campaign.services.supports import support_from_token
from campaign.stencils import StandIn
from tests.factories import make_campaign, make_user

SENDER = "Groundswell <no-reply@groundswell.localhost>"
DATE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
#: what escapes differently in HTML, in text, in a URL and in a header
AWKWARD = 'Café & <Crème> "brûlée" l\'été'
NAME = 'Zoë & <Ana> "Peña" O\'Brien'


def _owed(language: str | None) -> list[int]:
    """For each kind, a guest and a member (their own address, not yet verified) owed their
    confirmation email; everyone reads ``language`` (None: the members Spanish, the guests
    English: a member's own language wins over the one they signed in)."""
    ids = []
    for kind in CampaignKind:
        campaign = make_campaign(kind, title=f"{AWKWARD} — {kind.value}")
        member = make_user(f"member.{kind.value}@example.org", verified=False)
        member.locale = language or "es"
        db.session.commit()
        for email, user_id in ((f"guest.{kind.value}@example.org", None), (member.email, member.id)):
            result = service.add_support(
                campaign.id, name="Ana", email=email, country="GB", user_id=user_id, locale=language or "en"
            )
            ids.append(result.support_id)
    for support in db.session.execute(db.select(Support).where(Support.id.in_(ids))).scalars():
        support.name = NAME
    db.session.commit()
    user_ids = db.session.execute(db.select(Support.user_id).where(Support.id.in_(ids))).scalars().all()
    assert user_ids.count(None) == len(CampaignKind)  # a guest's and a member's for each kind
    return ids


def _claimed():
    _, rows = claim_owed_confirmations(100)
    return rows, {row.id: f"confirm-support:{row.id}:{row.confirmation_sends}" for row in rows}


def _bytes(email) -> bytes:
    return email.to_bytes(SENDER, date=DATE, boundary="=_fixed")


@pytest.fixture
def one_signing_time(monkeypatch):
    # The links are signed with the second they are made in: one second for both renders.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_777_777_777)


class _Counted:
    """A compiled template that keeps the support of each render."""

    def __init__(self, template, supports: list):
        self.template, self.supports = template, supports

    def render(self, context):
        self.supports.append(context["support"])
        return self.template.render(context)


@pytest.fixture
def rendered_for(monkeypatch) -> list:
    """The supports each text part was rendered for (a stand-in, a made-up reader or a row)."""
    supports: list = []

    def counted(name: str, language: str):
        text, html = compiled_templates(name, language)
        return _Counted(text, supports), html

    monkeypatch.setattr(dispatcher, "compiled_templates", counted)
    return supports


def _readers(rendered: list, ids: list[int]) -> list[int]:
    """The ids of the readers among ``rendered`` (a stand-in's id is a blank)."""
    return [s.id for s in rendered if not isinstance(s, StandIn) and s.id in ids]


@pytest.mark.parametrize("language", ["en", "es", None])
def test_each_confirmation_fills_in_the_bytes_its_reader_would_get(
    app, language, one_signing_time, rendered_for
):
    ids = _owed(language)
    rows, keys = _claimed()
    assert sorted(row.id for row in rows) == sorted(ids)
    alone = dict(confirmation_emails(rows, keys, one_by_one=True))
    assert sorted(_readers(rendered_for, ids)) == sorted(ids)
    del rendered_for[:]
    together = dict(confirmation_emails(rows, keys))
    # One render with blanks and one proof for each campaign and language; no reader alone.
    groups = len(CampaignKind) * (2 if language is None else 1)
    assert len(rendered_for) == 2 * groups and _readers(rendered_for, ids) == []
    assert together.keys() == alone.keys() == set(keys.values())
    for key, email in together.items():
        assert _bytes(email) == _bytes(alone[key]), key
        assert email.message_id == alone[key].message_id
    # The emails say what they should, in the reader's language, and each link is theirs.
    by_to = {email.to: email for email in together.values()}
    for row in rows:
        email = by_to[row.email]
        token = email.text.split("/confirm/")[1].split()[0]
        assert support_from_token("confirm-support", token).id == row.id
        assert "&amp; &lt;Crème&gt; &#34;brûlée&#34; l&#39;été" in email.html  # escaped once, in HTML
        assert AWKWARD in email.text and AWKWARD in email.subject  # as it is, in text
        spanish = language == "es" or (language is None and row.user_id is not None)
        assert email.text.startswith("Hola:" if spanish else "Hello,"), email.to
    nouns = {email.subject.split(":")[0] for email in together.values()}
    expected = {
        "en": {"Confirm your signature", "Confirm your pledge", "Confirm your endorsement"},
        "es": {"Confirma tu firma", "Confirma tu compromiso", "Confirma tu respaldo"},
    }
    assert (
        nouns == {"en": expected["en"], "es": expected["es"], None: expected["en"] | expected["es"]}[language]
    )


#: templates a render with blanks cannot stand for, and why: each has its emails rendered one by one
UNSAFE = {
    "a filter that cases the link": "Open {{ link|upper }}",
    "a filter that cuts the link": "Open {{ link|truncate(30, True, '…', 0) }}",
    "a filter that quotes the link": "Open {{ link|urlencode }}",
    "a test of the link": "Open {% if '&' in link %}it{% else %}{{ link }}{% endif %}",
    "the link's length": "Open ({{ link|length }}) {{ link }}",
    "something else of the reader": "Hi {{ support.email }}: {{ link }}",
    "the name cased": "Hi {{ support.name|upper }}: {{ link }}",
}
#: templates it can stand for: the name and the id are each reader's own too
SAFE = {
    "the name": "Hi {{ support.name }} ({{ support.id }}), {{ campaign.title }}: {{ link }}",
    "the share kit": "{% include 'email/_share.txt' %}{{ link }}",
}


def _from_string(monkeypatch, source: str) -> None:
    def templates(name: str, language: str):
        text, html = compiled_templates(name, language)
        # A template from a string is autoescaped: the text part's is not, as a .txt file's.
        plain = f"{{% autoescape false %}}{source}{{% endautoescape %}}"
        return text.environment.from_string(plain), html.environment.from_string(f"<p>{source}</p>")

    monkeypatch.setattr(dispatcher, "compiled_templates", templates)


@pytest.mark.parametrize(
    "source, stenciled",
    [*((s, False) for s in UNSAFE.values()), *((s, True) for s in SAFE.values())],
    ids=[*UNSAFE, *SAFE],
)
def test_a_template_a_render_with_blanks_cannot_stand_for_is_rendered_one_by_one(
    app, monkeypatch, one_signing_time, source, stenciled
):
    ids = _owed("en")
    _from_string(monkeypatch, source)
    rows, keys = _claimed()
    alone = dict(confirmation_emails(rows, keys, one_by_one=True))
    calls = []
    support_values = dispatcher.support_values
    monkeypatch.setattr(
        dispatcher, "support_values", lambda *args: calls.append(args[1]) or support_values(*args)
    )
    together = dict(confirmation_emails(rows, keys))
    filled_in = {s.id for s in calls if s.id in ids}
    assert filled_in == (set(ids) if stenciled else set())
    for key, email in together.items():
        assert _bytes(email) == _bytes(alone[key]), key
    if stenciled and "name" in source:
        assert "Hi Zoë &amp; &lt;Ana&gt;" in together[keys[ids[0]]].html


def test_a_reader_with_an_empty_name_is_rendered_alone_where_the_template_shows_it(
    app, monkeypatch, one_signing_time, rendered_for
):
    ids = _owed("en")
    db.session.get(Support, ids[0]).name = ""
    db.session.commit()
    rows, keys = _claimed()
    emails = dict(confirmation_emails(rows, keys))  # the name is not in the email
    assert _readers(rendered_for, ids) == []
    _from_string(monkeypatch, "Hello {{ support.name }}, {{ link }}")
    emails = dict(confirmation_emails(rows, keys))
    assert emails[keys[ids[0]]].text.startswith("Hello , http")
    assert emails[keys[ids[1]]].text.startswith(f"Hello {NAME}, http")


def test_a_member_reads_their_own_language(app, one_signing_time):
    campaign = make_campaign(title=AWKWARD)
    member = make_user("member@example.org", verified=False)
    member.locale = "es"
    db.session.commit()
    service.add_support(campaign.id, name="Ana", email=member.email, country="GB", user_id=member.id)
    rows, keys = _claimed()
    assert db.session.get(User, member.id).locale == "es" and rows[0].locale is None
    (email,) = dict(confirmation_emails(rows, keys)).values()
    assert email.subject.startswith("Confirma tu firma")
