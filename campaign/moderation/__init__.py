"""Moderation: the review queue, brand claims and certifications, the signing fraud pages."""

from flask import Blueprint

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

# The route modules register on bp: imported after it exists.
from campaign.moderation import signing, views  # noqa: E402, F401
