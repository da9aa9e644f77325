"""The organiser's launch kit, once the campaign is approved: share links, the embed code, a
QR code of the campaign's link and a printable A4 poster."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template

from campaign import poster
from campaign.models import Campaign
from campaign.sharing import share_kit
from campaign.urls import campaign_external_url, campaign_url


def register_launch_kit_routes(bp: Blueprint, organiser_only) -> None:
    """Add ``<kind>.launch_kit``, ``<kind>.qr_png`` and ``<kind>.poster_pdf``."""

    def public_link(campaign: Campaign) -> str:
        # Printed and scanned far from this request: the configured public address.
        return campaign_external_url(campaign)

    @bp.route("/<slug>/launch-kit")
    @organiser_only
    def launch_kit(campaign: Campaign):
        link = public_link(campaign)
        return render_template(
            "campaigns/launch_kit.html",
            campaign=campaign,
            link=link,
            share=share_kit(link, campaign.title) if campaign.is_public else None,
            qr_svg=poster.qr_svg(link) if campaign.is_public else None,
            embed_url=campaign_url(campaign, "embed", _external=True),
        )

    @bp.route("/<slug>/launch-kit/qr.png")
    @organiser_only
    def qr_png(campaign: Campaign):
        return _download(
            poster.qr_png(public_link(campaign)), "image/png", f"{campaign.slug}-qr.png", campaign
        )

    @bp.route("/<slug>/launch-kit/poster.pdf")
    @organiser_only
    def poster_pdf(campaign: Campaign):
        return _download(
            poster.poster_pdf(campaign, public_link(campaign)),
            "application/pdf",
            f"{campaign.slug}-poster.pdf",
            campaign,
        )


def _download(data: bytes, mimetype: str, name: str, campaign: Campaign) -> Response:
    if not campaign.is_public:
        abort(404)
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
