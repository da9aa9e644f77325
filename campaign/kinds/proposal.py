"""What a proposal is: an idea put to a brand and endorsed together, with co-authors,
comments and the brand's status; delivered, and unanswered past its deadline it becomes a
petition."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from campaign.kinds.base import Kind
from campaign.models import CampaignKind, Proposal

PROPOSAL = Kind(
    value=CampaignKind.PROPOSAL,
    model=Proposal,
    name="proposals",
    noun=_l("proposal"),
    nouns=_l("Proposals"),
    start_title=_l("Start a proposal"),
    support_verb=_l("Endorse"),
    support_noun=_l("endorsement"),
    supporters_noun=_l("endorsements"),
    counted=lambda n, count: ngettext("%(count)s endorsement", "%(count)s endorsements", n, count=count),
    pitch=_l("Put an idea to a brand and endorse it together."),
    start_pitch=_l("Put an idea to a brand and gather endorsements for it."),
    you_pending=_l("You endorsed this — check your inbox to confirm"),
    you_did=_l("You endorsed this on %(date)s"),
    delivers=True,
    escalates_to=CampaignKind.PETITION,
    escalate_label=_l("Escalate to a petition"),
    has_comments=True,
    lower_section="proposals/_sections.html",
)
