"""A member's own page: their campaigns and their supports."""

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from campaign.extensions import db
from campaign.models import Campaign, CoAuthor, Support
from campaign.services.pledges import check_brand, my_pledges

bp = Blueprint("accounts", __name__, url_prefix="/account")


@bp.route("/")
@login_required
def profile():
    campaigns = db.session.execute(
        db.select(Campaign).filter_by(organiser_id=current_user.id)
        .order_by(Campaign.created_at.desc())
    ).scalars().all()
    supports = db.session.execute(
        db.select(Support).filter_by(user_id=current_user.id)
        .order_by(Support.created_at.desc())
    ).scalars().all()
    invitations = db.session.execute(
        db.select(CoAuthor).filter_by(user_id=current_user.id, accepted_at=None)
    ).scalars().all()
    return render_template("accounts/profile.html", campaigns=campaigns, supports=supports,
                           invitations=invitations)


@bp.route("/pledges")
@login_required
def pledges():
    """My active boycotts and buycotts, and a check of any brand against them."""
    query = request.args.get("brand", "").strip()[:100]
    return render_template("accounts/pledges.html", mine=my_pledges(current_user.id),
                           query=query, results=check_brand(current_user.id, query) if query else None)
