"""The organiser's delivery routes, on the blueprint of every kind that delivers."""

from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _
from flask_login import current_user

from campaign.acting import act
from campaign.campaigns.organiser import confirm_first, undelivered_count
from campaign.models import Campaign
from campaign.services.deliveries import request_delivery, retry_failed_delivery
from campaign.urls import campaign_url


def register_delivery_routes(bp: Blueprint, organiser_only) -> None:
    """Add ``deliver`` (a new round, after asking) and ``retry_delivery`` to ``bp``."""

    @bp.route("/<slug>/deliver", methods=["POST"])
    @organiser_only
    def deliver(campaign: Campaign):
        if request.form.get("confirmed") != "yes":
            brand = campaign.target_brand.name if campaign.target_brand else _("the brand")
            waiting = undelivered_count(campaign)
            return confirm_first(
                campaign,
                _(
                    "Deliver %(counted)s to %(brand)s now?",
                    counted=campaign.count_phrase(waiting),
                    brand=brand,
                ),
                [
                    _(
                        "%(brand)s gets an email with a private link to the signed package (a PDF "
                        "summary and a list of public supporters), sealed so anyone can verify it.",
                        brand=brand,
                    ),
                    _(
                        "A delivery cannot be taken back. You can deliver again later: the next "
                        "round holds only the supporters who join after this one."
                    ),
                ],
                _("Deliver now"),
            )
        return act(
            lambda: request_delivery(campaign.id, current_user.id),
            done=lambda delivery: _(
                "Round %(round)s is being prepared and sent to %(brand)s. Its state shows below.",
                round=delivery.round,
                brand=delivery.brand.name,
            ),
            then=campaign_url(campaign) + "#deliveries",
        )

    @bp.route("/<slug>/deliveries/<int:delivery_id>/retry", methods=["POST"])
    @organiser_only
    def retry_delivery(campaign: Campaign, delivery_id: int):
        return act(
            lambda: retry_failed_delivery(delivery_id, current_user.id),
            done=_("The delivery is being tried again."),
            then=campaign_url(campaign) + "#deliveries",
        )
