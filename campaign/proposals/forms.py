from campaign.campaigns.forms import TargetBrandForm


class ProposalForm(TargetBrandForm):
    """A proposal is an idea for one brand; the story carries the idea itself."""
