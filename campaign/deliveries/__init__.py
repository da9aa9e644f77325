"""Deliveries: the brand's private page, the public verify page, supporters' proofs."""

from flask import Blueprint

bp = Blueprint("deliveries", __name__)

# The route modules register on bp: imported after it exists.
from campaign.deliveries import proofs, views  # noqa: E402, F401
