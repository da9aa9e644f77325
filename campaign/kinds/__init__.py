"""The campaign kinds: what each kind is and does, one module per kind
(:mod:`campaign.kinds.petition` …), each a :class:`~campaign.kinds.base.Kind`.

A kind's definition holds its words, its rules (delivers, escalates to, takes spend or
conditions, endorses brands) and the templates of its parts of the campaign page. Its form
and its own routes are in its blueprint package (``campaign/petitions/`` …), whose blueprint
:func:`campaign.campaigns.kind_blueprint.kind_blueprint` builds from the definition.

This package sits between the services and the models: services and views read a kind's
rules here (``campaign.definition.delivers``), and the models never import it.

To add a kind: a model subclass in :mod:`campaign.models.campaign` (and its ``CampaignKind``),
a module here with its definition and its entry in :data:`KINDS`, a blueprint package with
``forms.py`` and ``views.py``, its page section templates, and its blueprint registered in
:func:`campaign.register_blueprints`. The route tests (``tests/test_kind_routes.py``) and the
security walk read the kinds from :data:`KINDS`.
"""

from __future__ import annotations

from campaign.kinds.base import Kind
from campaign.kinds.boycott import BOYCOTT
from campaign.kinds.buycott import BUYCOTT
from campaign.kinds.petition import PETITION
from campaign.kinds.proposal import PROPOSAL
from campaign.models import Campaign, CampaignKind, CampaignTerms

#: Every kind, in the order pages list them.
KINDS: dict[CampaignKind, Kind] = {k.value: k for k in (PETITION, BOYCOTT, BUYCOTT, PROPOSAL)}
_BY_MODEL: dict[type[Campaign], Kind] = {k.model: k for k in KINDS.values()}

# Each model class carries its kind's definition (``campaign.definition``, read by pages,
# emails and services), set here so that the models need not import their kinds.
for _kind in KINDS.values():
    _kind.model.definition = _kind

__all__ = ["KINDS", "Kind", "kind_of"]


def kind_of(campaign: Campaign | CampaignTerms | type[Campaign] | CampaignKind | str) -> Kind:
    """The kind of a campaign (or its terms), of its model class, or of a kind's value
    ("petition")."""
    if isinstance(campaign, (Campaign, CampaignTerms)):
        return campaign.definition
    if isinstance(campaign, type):
        return _BY_MODEL[campaign]
    return KINDS[CampaignKind(campaign)]
