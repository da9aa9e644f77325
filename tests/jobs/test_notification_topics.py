"""Every notification topic renders through the one registry, each with a way to stop it."""

from campaign.extensions import db
from campaign.jobs.notifications import TOPICS
from campaign.models import Support
from tests.factories import an_object_per_topic, make_user


def test_every_notification_has_a_one_click_unsubscribe_header_and_link(app):
    objects = an_object_per_topic(make_user("member@example.org"))
    assert set(objects) == set(TOPICS), "a topic without an object here is not checked"
    for name, topic in TOPICS.items():
        obj = objects[name]
        recipients = (
            [None]
            if topic.organiser
            else db.session.execute(db.select(Support).filter_by(campaign_id=topic.audience(obj).id))
            .scalars()
            .all()
        )
        assert len(recipients) == (1 if topic.organiser else 2), name
        for support in recipients:
            email = topic.email(obj, support)
            if topic.transactional:
                assert "List-Unsubscribe" not in email.headers, name
                continue
            header = email.headers.get("List-Unsubscribe", "")
            assert header.startswith("<http") and header.endswith(">"), name
            assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", name
            url = header[1:-1]
            assert url in email.text, f"{name}: no unsubscribe link in the text part"
            assert f'href="{url}"' in email.html, f"{name}: no unsubscribe link in the HTML part"
    # The one email without: the outcome of the review an organiser asked for.
    assert [name for name, topic in TOPICS.items() if topic.transactional] == ["review"]
