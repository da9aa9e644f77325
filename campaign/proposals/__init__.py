"""Co-creation proposals: ideas customers put to a brand and endorse together."""

from campaign.campaigns.kinds import kind_blueprint
from campaign.models import Proposal
from campaign.proposals.forms import ProposalForm
from campaign.proposals.views import register_proposal_routes

bp = kind_blueprint(Proposal, ProposalForm, extra_routes=register_proposal_routes)
