"""The petitions blueprint: the routes every kind has, delivery and escalation (its
definition asks for them); no route of its own."""

from campaign.campaigns.kind_blueprint import kind_blueprint
from campaign.petitions.forms import PetitionForm
from campaign.petitions.kind import PETITION

bp = kind_blueprint(PETITION, PetitionForm)
