"""Routes on a proposal's community, whatever the proposal: report a comment, accept a
co-authorship."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from campaign.extensions import db
from campaign.models import Campaign, Comment
from campaign.proposals.forms import ReportForm
from campaign.services import ServiceError
from campaign.services import proposals as service
from campaign.urls import campaign_url

bp = Blueprint("community", __name__)


@bp.route("/comments/<int:comment_id>/report", methods=["POST"])
@login_required
def report_comment(comment_id: int):
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    form = ReportForm()
    if form.validate_on_submit():
        service.report_comment(comment.id, current_user.id, form.reason.data or "")
        flash(_("Thank you: a moderator will look at this comment."), "info")
    campaign = db.session.get(Campaign, comment.campaign_id)
    return redirect(campaign_url(campaign) + "#comments")


@bp.route("/coauthors/<int:invitation_id>/accept", methods=["POST"])
@login_required
def accept_coauthorship(invitation_id: int):
    try:
        invitation = service.accept_coauthorship(invitation_id, current_user.id)
    except ServiceError:
        abort(404)
    flash(_("You are now a co-author of “%(title)s”.", title=invitation.campaign.title), "success")
    return redirect(url_for("accounts.profile"))
