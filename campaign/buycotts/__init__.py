"""Buycotts: pledges to buy from brands that do right."""

from campaign.buycotts.forms import BuycottForm
from campaign.campaigns.kinds import kind_blueprint
from campaign.models import Buycott

bp = kind_blueprint(Buycott, BuycottForm)
