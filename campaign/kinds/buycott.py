"""What a buycott is: pledges to buy from brands that do right; it endorses brands (with dated
evidence) and supporters choose among them. Never delivered, never escalated."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from campaign.kinds.base import Kind
from campaign.models import Buycott, CampaignKind

BUYCOTT = Kind(
    value=CampaignKind.BUYCOTT,
    model=Buycott,
    name="buycotts",
    noun=_l("buycott"),
    nouns=_l("Buycotts"),
    start_title=_l("Start a buycott"),
    support_verb=_l("Pledge to buy"),
    support_noun=_l("pledge"),
    supporters_noun=_l("pledges"),
    counted=lambda n, count: ngettext("%(count)s pledge", "%(count)s pledges", n, count=count),
    pitch=_l("Pledge to buy from brands that do right, and show them why."),
    start_pitch=_l("Ask customers to buy from brands that do right, and say why."),
    you_pending=_l("You pledged — check your inbox to confirm"),
    you_did=_l("You pledged on %(date)s"),
    spending=lambda n, count, spend: ngettext(
        "%(count)s customer pledging about €%(spend)s a month",
        "%(count)s customers pledging about €%(spend)s a month",
        n,
        count=count,
        spend=spend,
    ),
    endorses_brands=True,
    section="buycotts/_section.html",
    organiser_tools="buycotts/_organiser_tools.html",
)
