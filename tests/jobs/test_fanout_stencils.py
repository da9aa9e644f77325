"""A fan-out batch renders each group of its readers' email once, with blanks for what is
each reader's own, and fills the blanks in for each reader: byte for byte the message that
rendering the email for that reader alone gives, for every topic, in each language, with
names and titles that need escaping and are not ASCII. A template that a render with blanks
cannot stand for has its emails rendered one by one."""

from datetime import UTC, datetime

import pytest
from itsdangerous.timed import TimestampSigner

from campaign.extensions import db
from campaign.jobs import notifications
from campaign.jobs.notifications import TOPICS, Topic
from campaign.mail import compiled_templates, receipt_message_id
from campaign.models import Brand, Campaign, Response, StatusChange, Support, Update, User
from tests.factories import an_object_per_topic, make_user

SENDER = "Groundswell <no-reply@groundswell.localhost>"
DATE = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
#: what escapes differently in HTML, in text, in a URL and in a header
AWKWARD = 'Café & <Crème> "brûlée" l\'été'


def _awkward(member: User) -> dict:
    """Each topic's object, with every name, title and text the emails show made awkward."""
    objects = an_object_per_topic(member)
    for n, support in enumerate(db.session.execute(db.select(Support)).scalars()):
        support.name = f'Zoë {n} & <Ana> "Peña" O\'Brien'
    for campaign in db.session.execute(db.select(Campaign)).scalars():
        campaign.title = f"{AWKWARD} — {campaign.title}"
    for brand in db.session.execute(db.select(Brand)).scalars():
        brand.name = f"Mañana & <Co> {brand.id}"
    for user in db.session.execute(db.select(User)).scalars():
        user.name = 'Organizadora & "Niña" <ñ>'
    for item in db.session.execute(db.select(Update)).scalars():
        item.title, item.body = AWKWARD, f"**{AWKWARD}** & more"
    for response in db.session.execute(db.select(Response)).scalars():
        response.body, response.commitment = f"_{AWKWARD}_", AWKWARD
    for change in db.session.execute(db.select(StatusChange)).scalars():
        change.answer = AWKWARD
    objects["victory"].victory_story = f"We <won> & {AWKWARD}"
    # Two thresholds among the conditional pledgers: that topic's email is one per threshold.
    pledgers = db.session.execute(db.select(Support).filter_by(campaign_id=objects["condition-met"].id))
    for support, threshold in zip(pledgers.scalars(), (2, 3), strict=True):
        support.condition_threshold = threshold
    db.session.commit()
    return objects


def _speak(language: str | None) -> None:
    """Every reader reads ``language``; None: members Spanish, the others English."""
    for record in (
        *db.session.execute(db.select(Support)).scalars(),
        *db.session.execute(db.select(User)).scalars(),
    ):
        record.locale = language or ("es" if isinstance(record, User) else "en")
    db.session.commit()


def _bytes(topic: Topic, obj, support: Support, email) -> bytes:
    email.message_id = receipt_message_id(topic.receipt_key(obj.id, support.id))
    return email.to_bytes(SENDER, date=DATE, boundary="=_fixed")


@pytest.fixture
def renders_alone(monkeypatch) -> list:
    """The readers whose email is rendered for them alone (a render's proof is no reader)."""
    readers: list = []
    render = Topic._render

    def counted(self, obj, own, shared, templates, support, links):
        readers.append(support)
        return render(self, obj, own, shared, templates, support, links)

    monkeypatch.setattr(Topic, "_render", counted)
    return readers


@pytest.fixture
def one_signing_time(monkeypatch):
    # The links are signed with the second they are made in: one second for both renders.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_777_777_777)


@pytest.mark.parametrize("language", ["en", "es", None])
def test_every_topic_fills_in_the_bytes_each_reader_would_get(app, language, one_signing_time, renders_alone):
    objects = _awkward(make_user("member@example.org"))
    _speak(language)
    checked = 0
    for name, topic in TOPICS.items():
        if topic.organiser:
            continue
        obj = objects[name]
        supports = (
            db.session.execute(db.select(Support).filter_by(campaign_id=topic.audience(obj).id))
            .scalars()
            .all()
        )
        assert len(supports) == 2 and any(s.user_id for s in supports), name  # a member, a guest
        alone = {support.id: email for support, email in topic.emails(obj, supports, one_by_one=True)}
        del renders_alone[:]
        together = {support.id: email for support, email in topic.emails(obj, supports)}
        assert not [s for s in renders_alone if isinstance(s, Support)], f"{name}: rendered one by one"
        assert set(together) == set(alone) == {s.id for s in supports}, name
        for support in supports:
            ours, theirs = together[support.id], alone[support.id]
            assert _bytes(topic, obj, support, ours) == _bytes(topic, obj, support, theirs), name
            checked += 1
        html = together[supports[0].id].html
        assert "&amp; &lt;Crème&gt; &#34;brûlée&#34; l&#39;été" in html, name  # escaped once, in HTML
        assert AWKWARD in together[supports[0].id].text, name  # as it is, in text
        greetings = sorted(email.text.split(",")[0][:4] for email in together.values())
        assert greetings == {"en": ["Hell"] * 2, "es": ["Hola"] * 2, None: ["Hell", "Hola"]}[language], name
    assert checked == 2 * len([t for t in TOPICS.values() if not t.organiser])


#: templates a render with blanks cannot stand for, and why: each has its emails rendered one by one
UNSAFE = {
    "a filter that cases the name": "Hi {{ support.name|upper }}",
    "a filter that cuts the name": "Hi {{ support.name|truncate(12, True, '…', 0) }}",
    "a filter that quotes the name": "Hi {{ support.name|urlencode }}",
    "a test of the name": "Hi {% if '&' in support.name %}friend{% else %}{{ support.name }}{% endif %}",
    "something else of the reader": "Hi {{ support.email }}",
    "the link's length": "Stop: {{ unsubscribe_url|length }}",
}


@pytest.mark.parametrize("template", list(UNSAFE.values()), ids=list(UNSAFE))
def test_a_template_a_render_with_blanks_cannot_stand_for_is_rendered_one_by_one(
    app, template, monkeypatch, one_signing_time, renders_alone
):
    objects = _awkward(make_user("member@example.org"))
    topic, obj = TOPICS["victory"], objects["victory"]

    def unsafe(name: str, language: str):
        text, html = compiled_templates(name, language)
        return text.environment.from_string(template), html.environment.from_string(template)

    monkeypatch.setattr(notifications, "compiled_templates", unsafe)
    supports = db.session.execute(db.select(Support).filter_by(campaign_id=obj.id)).scalars().all()
    alone = {support.id: email for support, email in topic.emails(obj, supports, one_by_one=True)}
    del renders_alone[:]
    together = {support.id: email for support, email in topic.emails(obj, supports)}
    assert sorted(s.id for s in renders_alone if isinstance(s, Support)) == sorted(s.id for s in supports)
    for support in supports:
        ours, theirs = together[support.id], alone[support.id]
        assert _bytes(topic, obj, support, ours) == _bytes(topic, obj, support, theirs)


def test_a_reader_with_an_empty_name_is_rendered_alone(app, one_signing_time, renders_alone):
    objects = _awkward(make_user("member@example.org"))
    topic, obj = TOPICS["victory"], objects["victory"]
    supports = db.session.execute(db.select(Support).filter_by(campaign_id=obj.id)).scalars().all()
    supports[0].name = ""
    db.session.commit()
    emails = dict(topic.emails(obj, supports))
    assert [s for s in renders_alone if isinstance(s, Support)] == [supports[0]]
    assert "Hello ," in emails[supports[0]].text and "Hello ," not in emails[supports[1]].text
