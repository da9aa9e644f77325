"""Use-cases as plain functions: ids and values in, commit inside. The work a use-case owes is
recorded in its transaction (:mod:`campaign.outbox`) and enqueued when that commits; a
service never imports a job or a view."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.models import User


class ServiceError(Exception):
    """A request that cannot be carried out; the message is fit to show the person."""


def require_moderator(user_id: int | None, refusal: str | None = None) -> User:
    """The moderator (or admin) ``user_id``; raises ServiceError with ``refusal`` (default:
    "Only moderators can do this.") for anyone else. Every moderator-only service checks
    here, whatever the view already checked."""
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_moderator:
        raise ServiceError(refusal or _("Only moderators can do this."))
    return user
