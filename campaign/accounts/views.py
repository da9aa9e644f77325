"""A member's own page: their campaigns and their supports."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from campaign.extensions import db
from campaign.models import Campaign, Support

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
    return render_template("accounts/profile.html", campaigns=campaigns, supports=supports)
