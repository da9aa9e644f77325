"""The data model: one module per aggregate, all re-exported here."""

from campaign.models.base import Base, UTCDateTime, utcnow
from campaign.models.brand import Brand, BrandMember, Certification
from campaign.models.campaign import (
    CAMPAIGN_CLASSES,
    EDITABLE_STATES,
    PUBLIC_STATES,
    Boycott,
    Buycott,
    Campaign,
    CampaignKind,
    CampaignState,
    Endorsement,
    Milestone,
    Petition,
    Proposal,
    Update,
)
from campaign.models.delivery import (
    STANCE_LABELS,
    Delivery,
    DeliveryState,
    Response,
    Stance,
    Verdict,
    VerdictChoice,
)
from campaign.models.support import (
    CountDelta,
    CountryCount,
    MailReceipt,
    Support,
    canonical_email,
)
from campaign.models.user import Role, User

__all__ = [
    "Base",
    "Boycott",
    "Brand",
    "BrandMember",
    "Buycott",
    "CAMPAIGN_CLASSES",
    "Campaign",
    "CampaignKind",
    "CampaignState",
    "Certification",
    "CountDelta",
    "CountryCount",
    "Delivery",
    "DeliveryState",
    "EDITABLE_STATES",
    "Endorsement",
    "MailReceipt",
    "Milestone",
    "PUBLIC_STATES",
    "Petition",
    "Proposal",
    "Response",
    "STANCE_LABELS",
    "Stance",
    "Verdict",
    "VerdictChoice",
    "Role",
    "Support",
    "Update",
    "User",
    "UTCDateTime",
    "canonical_email",
    "utcnow",
]
