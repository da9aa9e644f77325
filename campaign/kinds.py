"""The registry of campaign kinds: each kind's package says what it is
(``campaign/<kind>s/kind.py``); this module finds it for a campaign.

To add a kind: a model subclass in :mod:`campaign.models.campaign`, a package with ``kind.py``
(a :class:`~campaign.campaigns.kind.Kind`), ``forms.py`` and ``views.py`` (its blueprint, from
:func:`campaign.campaigns.kind_blueprint.kind_blueprint`), its page section template, its entry
below, and its blueprint in :func:`campaign.register_blueprints`.
"""

from __future__ import annotations

from campaign.boycotts.kind import BOYCOTT
from campaign.buycotts.kind import BUYCOTT
from campaign.campaigns.kind import Kind
from campaign.models import Campaign, CampaignKind
from campaign.petitions.kind import PETITION
from campaign.proposals.kind import PROPOSAL

#: Every kind, in the order pages list them.
KINDS: dict[CampaignKind, Kind] = {k.value: k for k in (PETITION, BOYCOTT, BUYCOTT, PROPOSAL)}
_BY_MODEL: dict[type[Campaign], Kind] = {k.model: k for k in KINDS.values()}

__all__ = ["KINDS", "Kind", "kind_of"]


def kind_of(campaign: Campaign | type[Campaign] | CampaignKind | str) -> Kind:
    """The kind of a campaign, of its model class, or of a kind's value ("petition")."""
    if isinstance(campaign, Campaign):
        return _BY_MODEL[type(campaign)]
    if isinstance(campaign, type):
        return _BY_MODEL[campaign]
    return KINDS[CampaignKind(campaign)]
