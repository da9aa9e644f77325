"""Petitions: signatures delivered to a brand with one demand."""

from campaign.campaigns.kinds import kind_blueprint
from campaign.models import Petition
from campaign.petitions.forms import PetitionForm

bp = kind_blueprint(Petition, PetitionForm)
