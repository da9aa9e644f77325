"""The brand directory and each brand's page."""

from flask import Blueprint, abort, render_template

from campaign.extensions import db
from campaign.models import PUBLIC_STATES, Brand, Campaign, Endorsement

bp = Blueprint("brands", __name__, url_prefix="/brands")


@bp.route("/")
def index():
    brands = db.session.execute(
        db.select(Brand).where(Brand.parent_id.is_(None)).order_by(Brand.name)
    ).scalars().all()
    return render_template("brands/index.html", brands=brands)


@bp.route("/<slug>")
def show(slug: str):
    brand = db.session.execute(db.select(Brand).filter_by(slug=slug)).scalar_one_or_none()
    if brand is None:
        abort(404)
    endorsed_in = db.select(Endorsement.campaign_id).filter_by(brand_id=brand.id)
    campaigns = db.session.execute(
        db.select(Campaign)
        .where(Campaign.state.in_(PUBLIC_STATES))
        .where((Campaign.target_brand_id == brand.id) | Campaign.id.in_(endorsed_in))
        .order_by(Campaign.published_at.desc())
    ).scalars().all()
    return render_template("brands/show.html", brand=brand, campaigns=campaigns)
