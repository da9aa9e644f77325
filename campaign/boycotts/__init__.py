"""Boycotts: pledges to stop buying from a brand until it meets the demands."""

from campaign.boycotts.forms import BoycottForm
from campaign.campaigns.kinds import kind_blueprint
from campaign.models import Boycott

bp = kind_blueprint(Boycott, BoycottForm)
