"""Moderators' signing fraud pages: the hourly report, allow and block lists, held supports
and their release, invalidation, open stalls, and the audit log of releases and
invalidations."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaign.auth.forms import ActionForm
from campaign.extensions import db
from campaign.models import (
    SUSPECT_LABELS,
    AbuseRule,
    Campaign,
    DecisionAction,
    Invalidation,
    RuleAction,
    Stall,
)
from campaign.moderation import bp
from campaign.moderation.forms import InvalidationForm, ReleaseForm, RuleForm
from campaign.moderation.views import moderator_required
from campaign.search import page_number
from campaign.services import ServiceError
from campaign.services import abuse as service
from campaign.services import stalls as stall_service


@bp.route("/signing")
@moderator_required
def signing():
    """The report of heavy signers (last 48 hours), held supports, open stalls and the
    latest releases and invalidations."""
    invalidations = (
        db.session.execute(
            select(Invalidation).order_by(Invalidation.created_at.desc(), Invalidation.id.desc()).limit(10)
        )
        .scalars()
        .all()
    )
    stalls = stall_service.open_stalls()
    return render_template(
        "moderation/signing.html",
        report=service.recent_report(),
        invalidations=invalidations,
        labels=SUSPECT_LABELS,
        held=service.held_overview(groups=5, sample=0),
        stalls=stalls,
        stall_tallies=stall_service.stall_tallies([s.id for s in stalls]),
    )


@bp.route("/signing/rules", methods=["GET", "POST"])
@moderator_required
def rules():
    form = RuleForm()
    error = None
    if form.validate_on_submit():
        try:
            rule = service.add_rule(
                form.kind.data, form.action.data, form.value.data, form.note.data, current_user.id
            )
        except ServiceError as exc:
            error = str(exc)
        else:
            flash(
                _("%(value)s is on the block list.", value=rule.value)
                if rule.action == RuleAction.BLOCK
                else _("%(value)s is on the allow list.", value=rule.value),
                "success",
            )
            return redirect(url_for("moderation.rules"))
    listed = (
        db.session.execute(select(AbuseRule).order_by(AbuseRule.action, AbuseRule.kind, AbuseRule.value))
        .scalars()
        .all()
    )
    return render_template(
        "moderation/rules.html",
        form=form,
        delete_form=ActionForm(),
        error=error,
        allowed=[r for r in listed if r.action == RuleAction.ALLOW],
        blocked=[r for r in listed if r.action == RuleAction.BLOCK],
    ), 400 if form.errors or error else 200


@bp.route("/signing/rules/<int:rule_id>/delete", methods=["POST"])
@moderator_required
def delete_rule(rule_id: int):
    if ActionForm().validate_on_submit():
        value = service.remove_rule(rule_id, current_user.id)
        if value:
            flash(_("%(value)s is off the list.", value=value), "info")
    return redirect(url_for("moderation.rules"))


@bp.route("/signing/invalidate", methods=["GET", "POST"])
@moderator_required
def invalidate():
    """Preview how many supports match some conditions, then invalidate them (a job)."""
    return _decide(DecisionAction.INVALIDATE, InvalidationForm)


@bp.route("/signing/release", methods=["GET", "POST"])
@moderator_required
def release():
    """Preview how many held supports match some conditions, then release them (a job)."""
    return _decide(DecisionAction.RELEASE, ReleaseForm)


def _decide(action: DecisionAction, form_class):
    # A line of the report, a stall or a group of held supports links here, filled in.
    prefill = {k: request.args.get(k, "")[:254] for k in form_class.PREFILLED}
    form = form_class(
        formdata=request.form if request.method == "POST" else None,
        data=prefill if request.method == "GET" else None,
    )
    found = error = None
    if form.validate_on_submit():
        try:
            cond = service.conditions(
                form.campaign.data,
                form.ip.data,
                form.domain.data,
                *form.window(),
                **form.more_conditions(),
                action=action,
            )
            if form.confirm.data:
                inv = service.start_decision(cond, form.reason.data, current_user.id)
                flash(
                    ngettext(
                        "Releasing %(count)s support; the counts are corrected when the job finishes.",
                        "Releasing %(count)s supports; the counts are corrected when the job finishes.",
                        inv.matched,
                        count=format_decimal(inv.matched),
                    )
                    if cond.is_release
                    else _(
                        "Invalidating %(count)s supports; the counts are corrected when the job finishes.",
                        count=format_decimal(inv.matched),
                    ),
                    "success",
                )
                return redirect(url_for("moderation.decisions"))
            found = service.preview(cond)
        except ServiceError as exc:
            error = str(exc)
    status = 400 if form.errors or error else 200
    return render_template(
        "moderation/invalidate.html",
        form=form,
        found=found,
        error=error,
        release=action == DecisionAction.RELEASE,
    ), status


@bp.route("/signing/held")
@moderator_required
def held():
    """Held supports, on every campaign or one (``?campaign=slug``) or one stall
    (``?stall=id``), grouped by reason, IP range, email domain and campaign, with a sample."""
    campaign = stall = None
    slug = request.args.get("campaign", "")[:140]
    if slug:
        campaign = db.session.execute(select(Campaign).filter_by(slug=slug)).scalar()
        if campaign is None:
            abort(404)
    stall_arg = request.args.get("stall", "")
    if stall_arg:
        stall = (
            db.session.get(Stall, int(stall_arg)) if stall_arg.isdigit() and len(stall_arg) <= 12 else None
        )
        if stall is None:
            abort(404)
    overview = service.held_overview(campaign.id if campaign else None, stall.id if stall else None)
    ids = [int(g.value) for g in overview.by_campaign]
    campaigns = (
        {c.id: c for c in db.session.execute(select(Campaign).where(Campaign.id.in_(ids))).scalars()}
        if ids
        else {}
    )
    scope = {"campaign": campaign.slug} if campaign else {}
    if stall:
        scope["stall"] = stall.id
    return render_template(
        "moderation/held.html",
        overview=overview,
        campaign=campaign,
        stall=stall,
        scope=scope,
        campaigns=campaigns,
        labels=SUSPECT_LABELS,
        domain_of=service.email_domain,
    )


@bp.route("/signing/log")
@moderator_required
def decisions():
    """The audit log: every invalidation and release, newest first."""
    page = db.paginate(
        select(Invalidation).order_by(Invalidation.created_at.desc(), Invalidation.id.desc()),
        page=page_number(),
        per_page=50,
        error_out=False,
    )
    return render_template("moderation/decisions.html", pagination=page, labels=SUSPECT_LABELS)
