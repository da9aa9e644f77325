"""An organiser's stalls: open one (its link and QR code), see them, close one."""

from __future__ import annotations

import segno
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from campaign.auth.forms import ActionForm
from campaign.extensions import db
from campaign.models import Campaign, Stall, utcnow
from campaign.services import ServiceError
from campaign.services import stalls as service
from campaign.supports.forms import StallForm


def stall_link(stall: Stall) -> str:
    return url_for("supports.stall", token=stall.token, _external=True)


def qr_code(url: str) -> str:
    """The link as a QR code, an SVG data URI (the page's CSP allows data: images)."""
    return segno.make(url, error="m").svg_data_uri(scale=5, border=2)


def register_stall_routes(bp: Blueprint, organiser_only) -> None:
    """Add ``<kind>.stalls`` and ``<kind>.close_stall`` to a kind's blueprint."""
    kind = bp.name

    @bp.route("/<slug>/stalls", methods=["GET", "POST"])
    @organiser_only
    def stalls(campaign: Campaign):
        form = StallForm()
        error = None
        if form.validate_on_submit():
            try:
                service.open_stall(
                    campaign.id,
                    campaign.organiser_id,
                    place=form.place.data,
                    volunteer=form.volunteer.data,
                    opens_at=form.opens_at_utc(),
                    hours=form.hours.data,
                )
            except ServiceError as exc:
                error = str(exc)
            else:
                flash(
                    _("The stall is open: print its QR code or open its link on the stall's tablet."),
                    "success",
                )
                return redirect(url_for(f"{kind}.stalls", slug=campaign.slug))
        listed = service.campaign_stalls(campaign.id)
        links = {s.id: stall_link(s) for s in listed}
        return render_template(
            "campaigns/stalls.html",
            campaign=campaign,
            form=form,
            error=error,
            stalls=listed,
            links=links,
            qr={sid: qr_code(url) for sid, url in links.items()},
            tallies=service.stall_tallies([s.id for s in listed]),
            close_form=ActionForm(),
            now=utcnow(),
        ), 400 if form.errors or error else 200

    @bp.route("/<slug>/stalls/<int:stall_id>/close", methods=["POST"])
    @organiser_only
    def close_stall(campaign: Campaign, stall_id: int):
        stall = db.session.get(Stall, stall_id)
        if stall is None or stall.campaign_id != campaign.id:
            abort(404)
        if ActionForm().validate_on_submit() and service.close_stall(stall_id, campaign.id):
            flash(_("The stall is closed; its link takes no more signatures."), "info")
        return redirect(url_for(f"{kind}.stalls", slug=campaign.slug))
