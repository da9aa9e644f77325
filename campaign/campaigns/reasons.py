"""Supporters' reasons on a campaign: the paged list, likes, reports and the featured one."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from campaign.auth.forms import ActionForm
from campaign.extensions import limiter
from campaign.models import Campaign
from campaign.search import page_number
from campaign.services import ServiceError
from campaign.services import reasons as service
from campaign.services.abuse import ip_key


def _like_limit() -> str:
    return current_app.config["RATELIMIT_REASON_LIKE"]


def _report_limit() -> str:
    return current_app.config["RATELIMIT_REASON_REPORT"]


def _per_member() -> str:
    return f"member:{current_user.id}" if current_user.is_authenticated else get_remote_address()


def register_reason_routes(bp: Blueprint, load, organiser_only) -> None:
    """Add ``<kind>.reasons`` and its like, report and feature buttons to a kind's blueprint."""
    kind = bp.name

    def back(campaign: Campaign, support_id: int):
        sort = request.form.get("sort") if request.form.get("sort") in service.SORTS else None
        page = request.form.get("page", type=int) or None
        return redirect(
            url_for(f"{kind}.reasons", slug=campaign.slug, sort=sort, page=page) + f"#reason-{support_id}"
        )

    @bp.route("/<slug>/reasons")
    def reasons(slug: str):
        campaign = load(slug)
        if not campaign.is_public:
            abort(404)
        sort = request.args.get("sort", "newest")
        if sort not in service.SORTS:
            sort = "newest"
        page = service.reasons_page(campaign.id, sort, page_number())
        mine = service.liked_by(
            current_user.id if current_user.is_authenticated else None, [s.id for s in page.items]
        )
        return render_template(
            "campaigns/reasons.html",
            campaign=campaign,
            pagination=page,
            sort=sort,
            liked=mine,
            form=ActionForm(),
            featured=service.featured_reason(campaign.id),
        )

    @bp.route("/<slug>/reasons/<int:support_id>/like", methods=["POST"])
    @login_required
    @limiter.limit(_like_limit, key_func=_per_member)
    def like_reason(slug: str, support_id: int):
        campaign = load(slug)
        if ActionForm().validate_on_submit():
            try:
                new = service.like_reason(campaign.id, support_id, current_user.id)
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _("You like this reason.") if new else _("You already like this reason."),
                    "success" if new else "info",
                )
        return back(campaign, support_id)

    @bp.route("/<slug>/reasons/<int:support_id>/report", methods=["POST"])
    @limiter.limit(_report_limit)
    def report_reason(slug: str, support_id: int):
        campaign = load(slug)
        if ActionForm().validate_on_submit():
            reporter = (
                f"u:{current_user.id}"
                if current_user.is_authenticated
                else f"ip:{ip_key(get_remote_address())}"
            )
            try:
                service.report_reason(campaign.id, support_id, reporter, request.form.get("reason", ""))
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(_("Thank you: a moderator will look at this reason."), "info")
        return back(campaign, support_id)

    @bp.route("/<slug>/reasons/<int:support_id>/feature", methods=["POST"])
    @organiser_only
    def feature_reason(campaign: Campaign, support_id: int):
        if ActionForm().validate_on_submit():
            try:
                featured = service.feature_reason(campaign.id, support_id, current_user.id)
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _("This reason is featured on the page.")
                    if featured
                    else _("This reason is no longer featured."),
                    "success",
                )
        return back(campaign, support_id)
