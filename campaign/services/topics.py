"""Topics: the tags moderators keep and organisers choose from."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import Topic
from campaign.services import ServiceError, require_moderator
from campaign.services.campaigns import slugify


def add_topic(moderator_id: int, name: str, name_es: str = "") -> Topic:
    """A new topic named ``name`` (and ``name_es`` in Spanish). Commits; raises ServiceError
    when a topic already has its address (the unique slug decides)."""
    require_moderator(moderator_id, _("Only moderators can change topics."))
    topic = Topic(slug=slugify(name, max_length=60), name=name.strip(), name_es=name_es.strip())
    if not topic.slug:
        raise ServiceError(_("Give the topic a name with letters."))
    db.session.add(topic)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_("There is already a topic called “%(name)s”.", name=name)) from None
    return topic


def remove_topic(moderator_id: int, topic_id: int) -> None:
    """Remove a topic from the list and from every campaign that had it. Commits."""
    require_moderator(moderator_id, _("Only moderators can change topics."))
    topic = db.session.get(Topic, topic_id)
    if topic is None:
        raise ServiceError(_("This topic no longer exists."))
    db.session.delete(topic)
    db.session.commit()
