"""Co-creation proposals: ideas customers put to a brand and endorse together."""

from campaign.campaigns.kinds import kind_blueprint
from campaign.models import Proposal
from campaign.proposals.forms import ProposalForm

bp = kind_blueprint(Proposal, ProposalForm)
