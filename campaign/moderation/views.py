"""The moderators' review queue."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from campaign.acting import act
from campaign.auth.forms import ActionForm
from campaign.extensions import db
from campaign.models import (
    Brand,
    BrandMember,
    Campaign,
    CampaignState,
    Comment,
    CommentReport,
    Topic,
)
from campaign.moderation import bp
from campaign.moderation.forms import ApproveForm, RejectForm, RemovePictureForm, TopicForm
from campaign.services import ServiceError
from campaign.services import brands as brand_service
from campaign.services import campaigns as service
from campaign.services import pictures as picture_service
from campaign.services import proposals as proposal_service
from campaign.services import reasons as reason_service
from campaign.services import topics as topic_service
from campaign.services.abuse import recent_report
from campaign.urls import campaign_url


def moderator_required(view):
    """Anonymous visitors are sent to log in; members who are not moderators get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_moderator:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def _pending(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


@bp.route("/")
@moderator_required
def queue():
    pending = (
        db.session.execute(
            db.select(Campaign).filter_by(state=CampaignState.PENDING).order_by(Campaign.submitted_at)
        )
        .scalars()
        .all()
    )
    brands = (
        db.session.execute(db.select(Brand).where(Brand.approved_at.is_(None)).order_by(Brand.created_at))
        .scalars()
        .all()
    )
    claims = (
        db.session.execute(
            db.select(BrandMember).where(BrandMember.verified_at.is_(None)).order_by(BrandMember.created_at)
        )
        .scalars()
        .all()
    )
    reported = (
        db.session.execute(
            db.select(Comment)
            .where(Comment.hidden_at.is_(None), Comment.id.in_(db.select(CommentReport.comment_id)))
            .order_by(Comment.created_at)
        )
        .scalars()
        .all()
    )

    return render_template(
        "moderation/queue.html",
        pending=pending,
        brands=brands,
        claims=claims,
        reported=reported,
        reported_reasons=reason_service.reported_reasons(),
        heavy_signers=len(recent_report(hours=24)),
    )


@bp.route("/brands/<int:brand_id>/reject", methods=["POST"])
@moderator_required
def reject_brand(brand_id: int):
    return act(
        lambda: brand_service.reject_brand(brand_id, current_user.id),
        done=lambda name: _("The suggestion %(name)s is refused.", name=name),
        category="info",
        then=url_for("moderation.queue"),
    )


@bp.route("/claims/<int:member_id>/reject", methods=["POST"])
@moderator_required
def reject_claim(member_id: int):
    return act(
        lambda: brand_service.reject_claim(member_id, current_user.id),
        done=_("The claim is refused."),
        category="info",
        then=url_for("moderation.queue"),
    )


@bp.route("/comments/<int:comment_id>/dismiss", methods=["POST"])
@moderator_required
def dismiss_reports(comment_id: int):
    proposal_service.dismiss_reports(comment_id, current_user.id)
    flash(_("The reports are dismissed; the comment stays."), "info")
    return redirect(url_for("moderation.queue"))


@bp.route("/campaigns/<int:campaign_id>/hide", methods=["POST"])
@moderator_required
def hide_campaign(campaign_id: int):
    form = RejectForm()
    campaign = _pending(campaign_id)
    if not form.validate_on_submit():
        flash(" ".join(map(str, form.reason.errors)), "error")
        return redirect(campaign_url(campaign))
    return act(
        lambda: service.hide_campaign(campaign.id, current_user.id, form.reason.data),
        done=lambda hidden: _("“%(title)s” is hidden; its organiser sees why.", title=hidden.title),
        category="info",
        then=campaign_url(campaign),
    )


@bp.route("/reasons/<int:support_id>/hide", methods=["POST"])
@moderator_required
def hide_reason(support_id: int):
    if ActionForm().validate_on_submit():
        reason_service.hide_reason(support_id, current_user.id)
        flash(_("The reason is hidden; the support still counts."), "info")
    return redirect(url_for("moderation.queue") + "#reasons")


@bp.route("/comments/<int:comment_id>/hide", methods=["POST"])
@moderator_required
def hide_comment(comment_id: int):
    proposal_service.hide_comment(comment_id, current_user.id)
    flash(_("The comment is hidden."), "success")
    return redirect(url_for("moderation.queue"))


@bp.route("/brands/<int:brand_id>/approve", methods=["POST"])
@moderator_required
def approve_brand(brand_id: int):
    return act(
        lambda: brand_service.approve_brand(brand_id, current_user.id),
        done=lambda brand: _("%(brand)s is now listed.", brand=brand.name),
        then=url_for("moderation.queue"),
    )


@bp.route("/claims/<int:member_id>/approve", methods=["POST"])
@moderator_required
def approve_claim(member_id: int):
    return act(
        lambda: brand_service.approve_claim(member_id, current_user.id),
        done=lambda member: _(
            "%(name)s now speaks for %(brand)s.", name=member.user.name, brand=member.brand.name
        ),
        then=url_for("moderation.queue"),
    )


@bp.route("/campaigns/<int:campaign_id>")
@moderator_required
def review(campaign_id: int):
    campaign = _pending(campaign_id)
    return render_template(
        "moderation/review.html",
        campaign=campaign,
        approve_form=ApproveForm(),
        reject_form=RejectForm(),
        picture_form=RemovePictureForm(),
    )


@bp.route("/campaigns/<int:campaign_id>/picture/remove", methods=["POST"])
@moderator_required
def remove_picture(campaign_id: int):
    campaign = _pending(campaign_id)
    form = RemovePictureForm()
    if not form.validate_on_submit():
        return render_template(
            "moderation/review.html",
            campaign=campaign,
            approve_form=ApproveForm(),
            reject_form=RejectForm(),
            picture_form=form,
        ), 400
    return act(
        lambda: picture_service.moderator_remove_picture(campaign.id, current_user.id, form.reason.data),
        done=_("The picture is removed and the organiser can see why."),
        category="info",
        then=url_for("moderation.review", campaign_id=campaign_id),
    )


@bp.route("/campaigns/<int:campaign_id>/approve", methods=["POST"])
@moderator_required
def approve(campaign_id: int):
    campaign = _pending(campaign_id)
    return act(
        lambda: service.approve(campaign.id, current_user.id),
        done=lambda published: _("“%(title)s” is published.", title=published.title),
        then=url_for("moderation.queue"),
    )


@bp.route("/campaigns/<int:campaign_id>/reject", methods=["POST"])
@moderator_required
def reject(campaign_id: int):
    campaign = _pending(campaign_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return render_template(
            "moderation/review.html",
            campaign=campaign,
            approve_form=ApproveForm(),
            reject_form=form,
            picture_form=RemovePictureForm(),
        ), 400
    return act(
        lambda: service.reject(campaign.id, current_user.id, form.reason.data),
        done=lambda rejected: _("“%(title)s” was sent back to its organiser.", title=rejected.title),
        category="info",
        then=url_for("moderation.queue"),
    )


@bp.route("/topics", methods=["GET", "POST"])
@moderator_required
def topics():
    """The topics organisers choose from: add one, or remove one."""
    form = TopicForm()
    if form.validate_on_submit():
        try:
            topic = topic_service.add_topic(current_user.id, form.name.data, form.name_es.data or "")
        except ServiceError as exc:
            form.name.errors.append(str(exc))
        else:
            flash(_("The topic “%(name)s” is added.", name=topic.name), "success")
            return redirect(url_for("moderation.topics"))
    listed = db.session.execute(db.select(Topic).order_by(Topic.name)).scalars().all()
    return render_template(
        "moderation/topics.html", form=form, topics=listed, delete_form=ActionForm()
    ), 400 if form.errors else 200


@bp.route("/topics/<int:topic_id>/remove", methods=["POST"])
@moderator_required
def remove_topic(topic_id: int):
    if ActionForm().validate_on_submit():
        return act(
            lambda: topic_service.remove_topic(current_user.id, topic_id),
            done=_("The topic is removed."),
            category="info",
            then=url_for("moderation.topics"),
        )
    return redirect(url_for("moderation.topics"))
