"""The boycotts blueprint: the routes every kind has, delivery, and its own thank-you buycott
once it is won."""

from flask import Blueprint
from flask_babel import gettext as _
from flask_login import current_user

from campaign.acting import act
from campaign.boycotts.forms import BoycottForm
from campaign.campaigns.kind_blueprint import kind_blueprint
from campaign.kinds.boycott import BOYCOTT
from campaign.models import Campaign
from campaign.services import escalation
from campaign.urls import campaign_url


def register_boycott_routes(bp: Blueprint, load, organiser_only) -> None:
    @bp.route("/<slug>/thank-you-buycott", methods=["POST"])
    @organiser_only
    def thank_you_buycott(campaign: Campaign):
        return act(
            lambda: escalation.thank_you_buycott(campaign.id, current_user.id),
            done=_("A thank-you buycott is drafted. Check it, then submit it for review."),
            then=lambda buycott: campaign_url(buycott, "edit"),
            failed=campaign_url(campaign),
        )


bp = kind_blueprint(BOYCOTT, BoycottForm, register_boycott_routes)
