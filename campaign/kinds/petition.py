"""What a petition is: signatures for one demand, delivered to the brand; unanswered past its
deadline, it becomes a boycott."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from campaign.kinds.base import Kind
from campaign.models import CampaignKind, Petition

PETITION = Kind(
    value=CampaignKind.PETITION,
    model=Petition,
    name="petitions",
    noun=_l("petition"),
    nouns=_l("Petitions"),
    start_title=_l("Start a petition"),
    support_verb=_l("Sign"),
    support_noun=_l("signature"),
    supporters_noun=_l("signatures"),
    counted=lambda n, count: ngettext("%(count)s signature", "%(count)s signatures", n, count=count),
    pitch=_l("Sign a demand that is delivered to the brand, sealed and verifiable."),
    start_pitch=_l(
        "Collect signatures for one clear demand; we deliver them to the brand with a verifiable seal."
    ),
    you_pending=_l("You signed — check your inbox to confirm"),
    you_did=_l("You signed on %(date)s"),
    delivers=True,
    escalates_to=CampaignKind.BOYCOTT,
    escalate_label=_l("Escalate to a boycott"),
    section="petitions/_section.html",
)
