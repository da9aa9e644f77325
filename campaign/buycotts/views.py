"""The buycotts blueprint: the routes every kind has, and its own renewal of an endorsement
whose evidence is old."""

from datetime import date

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_login import current_user

from campaign.acting import act
from campaign.buycotts.forms import BuycottForm
from campaign.campaigns.kind_blueprint import kind_blueprint
from campaign.kinds.buycott import BUYCOTT
from campaign.models import Campaign
from campaign.services import campaigns as service
from campaign.urls import campaign_url


def register_buycott_routes(bp: Blueprint, load, organiser_only) -> None:
    @bp.route("/<slug>/endorsements/<int:endorsement_id>/renew", methods=["POST"])
    @organiser_only
    def renew_endorsement(campaign: Campaign, endorsement_id: int):
        try:
            evidence_on = date.fromisoformat(request.form.get("evidence_on", ""))
        except ValueError:
            evidence_on = None
        return act(
            lambda: service.renew_endorsement(
                campaign.id, current_user.id, endorsement_id, evidence_on, request.form.get("reason")
            ),
            done=_("The endorsement is renewed with its new evidence."),
            then=campaign_url(campaign),
        )


bp = kind_blueprint(BUYCOTT, BuycottForm, register_buycott_routes)
