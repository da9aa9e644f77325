"""A member's own page: their campaigns and their supports; their email settings."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from campaign.accounts.forms import FREQUENCY_SAVED, EmailSettingsForm
from campaign.extensions import csrf, db
from campaign.models import Campaign, CoAuthor, EmailFrequency, Support
from campaign.packages import delivered_support_ids
from campaign.page_queries import supported_after_shares
from campaign.services import ServiceError
from campaign.services.accounts import set_email_frequency, user_for_unsubscribe_token
from campaign.services.pledges import check_brand, my_pledges
from campaign.tokens import TokenError

bp = Blueprint("accounts", __name__, url_prefix="/account")


@bp.route("/")
@login_required
def profile():
    campaigns = (
        db.session.execute(
            db.select(Campaign).filter_by(organiser_id=current_user.id).order_by(Campaign.created_at.desc())
        )
        .scalars()
        .all()
    )
    supports = (
        db.session.execute(
            db.select(Support).filter_by(user_id=current_user.id).order_by(Support.created_at.desc())
        )
        .scalars()
        .all()
    )
    invitations = (
        db.session.execute(db.select(CoAuthor).filter_by(user_id=current_user.id, accepted_at=None))
        .scalars()
        .all()
    )
    return render_template(
        "accounts/profile.html",
        campaigns=campaigns,
        supports=supports,
        invitations=invitations,
        delivered=delivered_support_ids(supports),
        after_shares=supported_after_shares(current_user.id),
        frequency=FREQUENCY_SAVED[current_user.email_frequency],
    )


@bp.route("/pledges")
@login_required
def pledges():
    """My active boycotts and buycotts, and a check of any brand against them."""
    query = request.args.get("brand", "").strip()[:100]
    return render_template(
        "accounts/pledges.html",
        mine=my_pledges(current_user.id),
        query=query,
        results=check_brand(current_user.id, query) if query else None,
    )


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """How often the member is emailed notices."""
    form = EmailSettingsForm(email_frequency=current_user.email_frequency.value)
    if form.validate_on_submit():
        try:
            set_email_frequency(current_user.id, form.email_frequency.data)
        except ServiceError as exc:
            form.email_frequency.errors.append(str(exc))
        else:
            flash(_("Saved: we will email you %(what)s.", what=FREQUENCY_SAVED[form.email_frequency.data]))
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/settings.html", form=form), 400 if form.errors else 200


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: mail clients POST here without a form; the token is the proof
def unsubscribe(token: str):
    """Stop every notice to a member, from the link in a digest or a member's notice."""
    try:
        user = user_for_unsubscribe_token(token)
    except TokenError as exc:
        return render_template("supports/token_error.html", expired=exc.expired), 400
    if request.method == "POST":
        set_email_frequency(user.id, EmailFrequency.NEVER.value)
        return render_template("accounts/unsubscribed.html", user=user)
    return render_template("accounts/unsubscribe.html", user=user)
