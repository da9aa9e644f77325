"""Supporters' reasons on a campaign: the paged list, likes, reports and the featured one."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from campaign.acting import act
from campaign.auth.forms import ActionForm
from campaign.extensions import limiter
from campaign.models import Campaign
from campaign.search import page_number
from campaign.services import ServiceError
from campaign.services import reasons as service
from campaign.services.abuse import ip_key
from campaign.urls import campaign_url


def _like_limit() -> str:
    return current_app.config["RATELIMIT_REASON_LIKE"]


def _report_limit() -> str:
    return current_app.config["RATELIMIT_REASON_REPORT"]


def _per_member() -> str:
    return f"member:{current_user.id}" if current_user.is_authenticated else get_remote_address()


def register_reason_routes(bp: Blueprint, load, organiser_only) -> None:
    """Add ``<kind>.reasons`` and its like, report and feature buttons to a kind's blueprint."""

    def back_to(campaign: Campaign, support_id: int) -> str:
        """The page of reasons the visitor came from, at this reason."""
        sort = request.form.get("sort") if request.form.get("sort") in service.SORTS else None
        page = request.form.get("page", type=int) or None
        return campaign_url(campaign, "reasons", sort=sort, page=page) + f"#reason-{support_id}"

    def back(campaign: Campaign, support_id: int):
        return redirect(back_to(campaign, support_id))

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
            then = back_to(campaign, support_id)
            try:
                new = service.like_reason(campaign.id, support_id, current_user.id)
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _("You like this reason.") if new else _("You already like this reason."),
                    "success" if new else "info",
                )
            return redirect(then)
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
            return act(
                lambda: service.report_reason(
                    campaign.id, support_id, reporter, request.form.get("reason", "")
                ),
                done=_("Thank you: a moderator will look at this reason."),
                category="info",
                then=back_to(campaign, support_id),
            )
        return back(campaign, support_id)

    @bp.route("/<slug>/reasons/<int:support_id>/feature", methods=["POST"])
    @organiser_only
    def feature_reason(campaign: Campaign, support_id: int):
        if ActionForm().validate_on_submit():
            return act(
                lambda: service.feature_reason(campaign.id, support_id, current_user.id),
                done=lambda featured: (
                    _("This reason is featured on the page.")
                    if featured
                    else _("This reason is no longer featured.")
                ),
                then=back_to(campaign, support_id),
            )
        return back(campaign, support_id)
