"""Moderators' signing fraud pages: the hourly report, allow and block lists, invalidation."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaign.auth.forms import ActionForm
from campaign.extensions import db
from campaign.models import SUSPECT_LABELS, AbuseRule, Invalidation, RuleAction
from campaign.moderation.forms import InvalidationForm, RuleForm
from campaign.moderation.views import bp, moderator_required
from campaign.services import ServiceError
from campaign.services import abuse as service


@bp.route("/signing")
@moderator_required
def signing():
    """The report of heavy signers (last 48 hours) and the latest invalidations."""
    invalidations = db.session.execute(
        select(Invalidation).order_by(Invalidation.created_at.desc()).limit(20)).scalars().all()
    return render_template("moderation/signing.html", report=service.recent_report(),
                           invalidations=invalidations, labels=SUSPECT_LABELS)


@bp.route("/signing/rules", methods=["GET", "POST"])
@moderator_required
def rules():
    form = RuleForm()
    error = None
    if form.validate_on_submit():
        try:
            rule = service.add_rule(form.kind.data, form.action.data, form.value.data,
                                    form.note.data, current_user.id)
        except ServiceError as exc:
            error = str(exc)
        else:
            flash(_("%(value)s is on the block list.", value=rule.value)
                  if rule.action == RuleAction.BLOCK else
                  _("%(value)s is on the allow list.", value=rule.value), "success")
            return redirect(url_for("moderation.rules"))
    listed = db.session.execute(
        select(AbuseRule).order_by(AbuseRule.action, AbuseRule.kind, AbuseRule.value)).scalars().all()
    return render_template("moderation/rules.html", form=form, delete_form=ActionForm(),
                           error=error,
                           allowed=[r for r in listed if r.action == RuleAction.ALLOW],
                           blocked=[r for r in listed if r.action == RuleAction.BLOCK]), \
        400 if form.errors or error else 200


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
    # A line of the report links here with its campaign, IP or domain filled in.
    prefill = {k: request.args.get(k, "")[:254] for k in ("campaign", "ip", "domain")}
    form = InvalidationForm(formdata=request.form if request.method == "POST" else None,
                            data=prefill if request.method == "GET" else None)
    found = error = None
    if form.validate_on_submit():
        try:
            cond = service.conditions(form.campaign.data, form.ip.data, form.domain.data,
                                      *form.window())
            if form.confirm.data:
                inv = service.start_invalidation(cond, form.reason.data, current_user.id)
                flash(ngettext("Invalidating %(count)s support; the counts are corrected when "
                               "the job finishes.", "Invalidating %(count)s supports; the counts "
                               "are corrected when the job finishes.", inv.matched,
                               count=format_decimal(inv.matched)), "success")
                return redirect(url_for("moderation.signing"))
            found = service.preview(cond)
        except ServiceError as exc:
            error = str(exc)
    status = 400 if form.errors or error else 200
    return render_template("moderation/invalidate.html", form=form, found=found,
                           error=error), status
