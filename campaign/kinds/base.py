"""What a campaign kind is: the shape each kind's module in :mod:`campaign.kinds` fills in.

A kind says, in one place, its words, what it does (delivers, escalates, takes conditions,
endorses brands, asks for spend) and the templates of its own parts of the campaign page.
Its own routes are in its blueprint package's ``views.py``; the routes every kind has are in
:mod:`campaign.campaigns.kind_blueprint`, which also adds those the definition asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import format_decimal
from markupsafe import Markup

from campaign.models import Campaign, CampaignKind


@dataclass(frozen=True, eq=False)
class Kind:
    """One kind of campaign: its model, its words and its rules (lazy strings are
    translated when shown)."""

    value: CampaignKind
    model: type[Campaign]
    #: Its blueprint's name and URL prefix ("petitions").
    name: str
    noun: str
    nouns: str
    start_title: str
    support_verb: str
    support_noun: str
    supporters_noun: str
    #: ``counted(n, count=formatted_n)``: "1 signature", "2,500 signatures" (an ``ngettext``
    #: written out in the kind's module, so the catalogue extracts it).
    counted: Callable[..., str]
    #: What it is, on the home page; and what starting one means, on the "start" page.
    pitch: str
    start_pitch: str
    #: What a supporter sees on the page after acting: pending, then with ``%(date)s``.
    you_pending: str
    you_did: str
    #: Its supports are delivered to the brand in rounds (a signed package).
    delivers: bool = False
    #: Unanswered past its deadline, it may become this kind (the organiser escalates).
    escalates_to: CampaignKind | None = None
    #: Its pledges may wait for a number of others (conditional boycott pledges).
    takes_conditions: bool = False
    #: It names brands to buy from, and supporters choose among them (buycotts).
    endorses_brands: bool = False
    #: The button that escalates it ("Escalate to a petition"), for a kind that escalates.
    escalate_label: str | None = None
    #: Templates of its own parts of the campaign page: ``section`` says what it asks (above
    #: the brand's answers and the story), ``lower_section`` comes after the deliveries,
    #: ``organiser_tools`` joins the organiser's tools.
    section: str | None = None
    lower_section: str | None = None
    organiser_tools: str | None = None
    #: ``spending(n, count=…, spend=…)``: "2 customers withholding about €40 a month" (an
    #: ``ngettext``); a kind with it asks supporters what they spend a month.
    spending: Callable[..., str] | None = None
    #: Its page has comments, paged by a query parameter (proposals).
    has_comments: bool = False
    #: Words for supporters when it wins (e.g. a boycott's "you can buy from it again").
    won_note: str | None = None

    @property
    def takes_spend(self) -> bool:
        """Its supporters may say what they spend a month (boycotts and buycotts)."""
        return self.spending is not None

    @property
    def asks_answer_by(self) -> bool:
        """Its form asks when the brand should answer by (it escalates past that)."""
        return self.escalates_to is not None

    def spend_phrase(self, campaign: Campaign) -> str | None:
        """What ``campaign``'s supporters spend a month, or None when none said."""
        if self.spending is None or not campaign.monthly_spend_total:
            return None
        return self.spending(
            campaign.confirmed_count,
            count=format_decimal(campaign.confirmed_count),
            spend=format_decimal(campaign.monthly_spend_total),
        )

    def count_phrase(self, n: int, *, strong: bool = False) -> str:
        """ "1 signature", "2,500 signatures", in the plural form the reader's language asks
        for. ``strong`` puts the number in <strong> (and returns markup)."""
        text = format_decimal(n)
        if strong:
            # The words are ours (the catalogue) and the number is formatted: safe as markup.
            return Markup(self.counted(n, count=Markup("<strong>%s</strong>") % text))
        return self.counted(n, count=text)
