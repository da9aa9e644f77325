"""The proposals blueprint: the routes every kind has, delivery and escalation, and what
proposals add: similar ideas, co-authors, comments and the brand's status."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from campaign.acting import act
from campaign.campaigns.kind_blueprint import kind_blueprint
from campaign.converters import id_arg
from campaign.extensions import db, limiter
from campaign.kinds.proposal import PROPOSAL
from campaign.models import Campaign, Proposal, ProposalStatus
from campaign.proposals.forms import CommentForm, InviteCoauthorForm, ProposalForm, StatusForm
from campaign.services import ServiceError
from campaign.services import proposals as service
from campaign.urls import campaign_url


def _slug_from(text: str) -> str:
    return text.rstrip("/").rsplit("/", 1)[-1]


def register_proposal_routes(bp: Blueprint, load, organiser_only) -> None:
    def back(campaign: Campaign, anchor: str = ""):
        return redirect(campaign_url(campaign) + anchor)

    @bp.route("/similar.json")
    def similar():
        """Open proposals to a brand like the title being typed (suggestions, never a block)."""
        brand_id = request.args.get("brand", type=id_arg)
        title = request.args.get("title", "")[:150]
        if not brand_id:
            return jsonify(error={"status": 400, "message": "brand is required"}), 400
        found = service.similar_open_proposals(
            brand_id, title, exclude_id=request.args.get("exclude", type=id_arg)
        )
        # ``counted`` is in the visitor's language: the script shows it as it comes.
        return jsonify(
            proposals=[
                {
                    "title": p.title,
                    "count": p.confirmed_count,
                    "counted": p.count_phrase(),
                    "url": campaign_url(p),
                }
                for p in found
            ]
        )

    @bp.route("/<slug>/coauthors", methods=["POST"])
    @organiser_only
    def invite(campaign: Campaign):
        form = InviteCoauthorForm()
        if form.validate_on_submit():
            return act(
                lambda: service.invite_coauthor(campaign.id, current_user.id, form.email.data),
                # The same answer whether the address has an account or not.
                done=_(
                    "If %(email)s has a Groundswell account, its owner is invited and "
                    "told by email; they accept from their account page.",
                    email=form.email.data,
                ),
                then=campaign_url(campaign) + "#coauthors",
            )
        flash(" ".join(map(str, form.email.errors)), "error")
        return back(campaign, "#coauthors")

    @bp.route("/<slug>/comments", methods=["POST"])
    @login_required
    # Per member, whatever the IP: a member cannot bury a page under comments.
    @limiter.limit(
        lambda: current_app.config["RATELIMIT_COMMENT"],
        methods=["POST"],
        key_func=lambda: f"comment:{current_user.get_id()}",
    )
    def comment(slug: str):
        campaign = load(slug)
        form = CommentForm()
        if form.validate_on_submit():
            try:
                parent_id = id_arg(form.parent_id.data) if form.parent_id.data else None
                made = service.add_comment(campaign.id, current_user.id, form.body.data, parent_id)
            except (ServiceError, ValueError) as exc:
                flash(
                    str(exc) if isinstance(exc, ServiceError) else _("Reply to a comment on this page."),
                    "error",
                )
            else:
                return back(campaign, f"#comment-{made.id}")
        else:
            flash(" ".join(map(str, form.body.errors)), "error")
        return back(campaign, "#comments")

    @bp.route("/<slug>/status", methods=["POST"])
    @login_required
    def set_status(slug: str):
        campaign = load(slug)
        if not current_user.answers_for(campaign.target_brand_id):
            abort(403)
        form = StatusForm()
        if form.validate_on_submit():
            duplicate_id = None
            if form.status.data == ProposalStatus.DUPLICATE.value:
                other = db.session.execute(
                    select(Proposal).filter_by(slug=_slug_from(form.duplicate_of.data or ""))
                ).scalar_one_or_none()
                duplicate_id = other.id if other else None
            return act(
                lambda: service.set_status(
                    campaign.id,
                    current_user,
                    ProposalStatus(form.status.data),
                    form.answer.data,
                    duplicate_of_id=duplicate_id,
                ),
                done=_("The status is set and endorsers are being told."),
                then=campaign_url(campaign) + "#status",
            )
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return back(campaign, "#status")


bp = kind_blueprint(PROPOSAL, ProposalForm, register_proposal_routes)
