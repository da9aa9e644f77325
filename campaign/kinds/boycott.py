"""What a boycott is: pledges to stop buying until the brand meets the demands; pledges may
wait for others (conditional), and are delivered to the brand."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from campaign.kinds.base import Kind
from campaign.models import Boycott, CampaignKind

BOYCOTT = Kind(
    value=CampaignKind.BOYCOTT,
    model=Boycott,
    name="boycotts",
    noun=_l("boycott"),
    nouns=_l("Boycotts"),
    start_title=_l("Start a boycott"),
    support_verb=_l("Pledge to stop buying"),
    support_noun=_l("pledge"),
    supporters_noun=_l("pledges"),
    counted=lambda n, count: ngettext("%(count)s pledge", "%(count)s pledges", n, count=count),
    pitch=_l("Pledge to stop buying until the brand meets the demands."),
    start_pitch=_l("Ask customers to stop buying until the brand meets your demands."),
    you_pending=_l("You pledged — check your inbox to confirm"),
    you_did=_l("You pledged on %(date)s"),
    delivers=True,
    spending=lambda n, count, spend: ngettext(
        "%(count)s customer withholding about €%(spend)s a month",
        "%(count)s customers withholding about €%(spend)s a month",
        n,
        count=count,
        spend=spend,
    ),
    takes_conditions=True,
    section="boycotts/_section.html",
    organiser_tools="boycotts/_organiser_tools.html",
    won_note=_l("%(brand)s met the demands: you can buy from it again."),
)
