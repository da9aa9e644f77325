"""The organiser's escalation route, on the blueprint of every kind that escalates."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import gettext as _
from flask_login import current_user

from campaign.acting import act
from campaign.models import Campaign
from campaign.services import escalation
from campaign.urls import campaign_url


def register_escalation_routes(bp: Blueprint, organiser_only) -> None:
    """Add ``escalate``: a draft of the next kind, from a campaign the brand ignored."""

    @bp.route("/<slug>/escalate", methods=["POST"])
    @organiser_only
    def escalate(campaign: Campaign):
        return act(
            lambda: escalation.escalate(campaign.id, current_user.id),
            done=lambda new: _(
                "Your %(new)s is drafted from this %(noun)s. Check it, then submit it for "
                "review; once it is published, your supporters are invited to join it.",
                new=new.noun,
                noun=campaign.noun,
            ),
            then=lambda new: campaign_url(new, "edit"),
            failed=campaign_url(campaign),
        )
