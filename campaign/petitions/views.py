"""The petitions blueprint: the routes every kind has, delivery and escalation (its
definition asks for them); no route of its own."""

from campaign.campaigns.kind_blueprint import kind_blueprint
from campaign.kinds.petition import PETITION
from campaign.petitions.forms import PetitionForm

bp = kind_blueprint(PETITION, PetitionForm)
