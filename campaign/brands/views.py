"""The brand directory, brand pages and their accountability record, and brand membership."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from campaign.auth.forms import ActionForm
from campaign.brands.forms import BrandForm, CertificationForm, ClaimForm, SuggestBrandForm
from campaign.extensions import db
from campaign.models import (
    PROPOSAL_STATUS_LABELS,
    PUBLIC_STATES,
    Brand,
    Campaign,
    Delivery,
    Endorsement,
    Proposal,
)
from campaign.moderation.views import moderator_required
from campaign.pictures.views import register_logo_routes
from campaign.services import ServiceError
from campaign.services import brands as service
from campaign.services.accountability import record_for
from campaign.services.deliveries import delivery_link
from campaign.services.pledges import boycotts_covering, buycott_pledges_for
from campaign.tokens import TokenError

bp = Blueprint("brands", __name__, url_prefix="/brands")


def _brand(slug: str, *, approved: bool = True) -> Brand:
    brand = db.session.execute(select(Brand).filter_by(slug=slug)).scalar_one_or_none()
    if brand is None or (
        approved
        and brand.approved_at is None
        and not (current_user.is_authenticated and current_user.is_moderator)
    ):
        abort(404)
    return brand


def _parent_choices(form, exclude: Brand | None = None) -> None:
    brands = db.session.execute(
        select(Brand).where(Brand.approved_at.is_not(None)).order_by(Brand.name)
    ).scalars()
    blocked = {exclude.id, *(b.id for b in exclude.descendants())} if exclude else set()
    form.parent_id.choices = [SelectChoice(0, _l("Nobody (independent)"))] + [
        SelectChoice(b.id, b.name) for b in brands if b.id not in blocked
    ]


def _form_data(form) -> dict:
    data = {name: field.data for name, field in form._fields.items() if name not in ("submit", "csrf_token")}
    data["parent_id"] = data.get("parent_id") or None
    return data


@bp.route("/")
def index():
    brands = (
        db.session.execute(
            select(Brand)
            .where(Brand.parent_id.is_(None), Brand.approved_at.is_not(None))
            .order_by(Brand.name)
        )
        .scalars()
        .all()
    )
    return render_template("brands/index.html", brands=brands)


@bp.route("/<slug>")
def show(slug: str):
    brand = _brand(slug)
    endorsed_in = select(Endorsement.campaign_id).filter_by(brand_id=brand.id)
    campaigns = (
        db.session.execute(
            select(Campaign)
            .where(Campaign.state.in_(PUBLIC_STATES))
            .where((Campaign.target_brand_id == brand.id) | Campaign.id.in_(endorsed_in))
            .order_by(Campaign.published_at.desc())
        )
        .scalars()
        .all()
    )
    pledges, spend = buycott_pledges_for(brand.id)
    return render_template(
        "brands/show.html",
        brand=brand,
        campaigns=campaigns,
        record=record_for(brand.id),
        covering=boycotts_covering(brand),
        buycott_pledges=pledges,
        buycott_spend=spend,
    )


@bp.route("/<slug>/roadmap")
def roadmap(slug: str):
    """The brand's proposals, by status: what customers asked for and what the brand does."""
    brand = _brand(slug)
    proposals = (
        db.session.execute(
            select(Proposal)
            .where(Proposal.target_brand_id == brand.id, Proposal.state.in_(PUBLIC_STATES))
            .order_by(Proposal.published_at.desc())
        )
        .scalars()
        .all()
    )
    columns = {None: []} | {status: [] for status in PROPOSAL_STATUS_LABELS}
    for proposal in proposals:
        columns[proposal.proposal_status].append(proposal)
    return render_template(
        "brands/roadmap.html", brand=brand, columns=columns, labels={None: _("New"), **PROPOSAL_STATUS_LABELS}
    )


@bp.route("/new", methods=["GET", "POST"])
@moderator_required
def new():
    form = BrandForm()
    _parent_choices(form)
    if form.validate_on_submit():
        try:
            brand = service.save_brand(current_user.id, None, _form_data(form))
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(_("%(brand)s is added.", brand=brand.name), "success")
            return redirect(url_for("brands.show", slug=brand.slug))
    return render_template("brands/form.html", form=form, brand=None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@moderator_required
def edit(slug: str):
    brand = _brand(slug, approved=False)
    form = BrandForm(obj=brand) if not BrandForm().is_submitted() else BrandForm()
    _parent_choices(form, exclude=brand)
    if not form.is_submitted():
        form.parent_id.data = brand.parent_id or 0
    if form.validate_on_submit():
        try:
            service.save_brand(current_user.id, brand.id, _form_data(form))
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(_("The brand is saved."), "success")
            return redirect(url_for("brands.show", slug=brand.slug))
    return render_template("brands/form.html", form=form, brand=brand, cert_form=CertificationForm())


@bp.route("/<slug>/certifications", methods=["POST"])
@moderator_required
def add_certification(slug: str):
    brand = _brand(slug, approved=False)
    form = CertificationForm()
    if form.validate_on_submit():
        service.add_certification(
            current_user.id,
            brand.id,
            name=form.name.data,
            issuer=form.issuer.data,
            evidence_url=form.evidence_url.data,
            expires_on=form.expires_on.data,
            verified=form.verified.data,
        )
        flash(_("%(name)s is added to %(brand)s.", name=form.name.data, brand=brand.name), "success")
        return redirect(url_for("brands.edit", slug=brand.slug))
    edit_form = BrandForm(obj=brand)
    _parent_choices(edit_form, exclude=brand)
    return render_template("brands/form.html", form=edit_form, brand=brand, cert_form=form), 400


@bp.route("/suggest", methods=["GET", "POST"])
@login_required
def suggest():
    form = SuggestBrandForm()
    _parent_choices(form)
    if not form.is_submitted() and request.args.get("name"):
        # From a campaign form's "brand not listed?": the name already typed there.
        form.name.data = " ".join(request.args["name"].split())[:120]
    if form.validate_on_submit():
        try:
            brand = service.suggest_brand(current_user.id, _form_data(form))
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(
                _("Thank you: a moderator will review %(brand)s before it is listed.", brand=brand.name),
                "success",
            )
            return redirect(url_for("brands.index"))
    return render_template("brands/suggest.html", form=form)


@bp.route("/<slug>/claim", methods=["GET", "POST"])
@login_required
def claim(slug: str):
    brand = _brand(slug)
    form = ClaimForm()
    if form.validate_on_submit():
        try:
            member = service.claim_brand(current_user.id, brand.id, form.work_email.data, form.title.data)
        except ServiceError as exc:
            form.work_email.errors.append(str(exc))
        else:
            flash(
                _("We sent a link to %(email)s: open it to verify your claim.", email=member.claim_email)
                if member.claim_email
                else _("Your claim is with the moderators; you will see it verified on your account page."),
                "success",
            )
            return redirect(url_for("accounts.profile"))
    return render_template("brands/claim.html", brand=brand, form=form)


@bp.route("/claims/verify/<token>", methods=["GET", "POST"])
def verify_claim(token: str):
    """The link sent to a claimant's work address: a button, then the POST verifies (a mail
    scanner opening the link must not make anyone speak for a brand)."""
    form = ActionForm()
    try:
        if not form.validate_on_submit():
            member = service.member_for_claim_token(token, current_app.config["EMAIL_TOKEN_MAX_AGE"])
            return render_template("brands/confirm_claim.html", member=member, form=form)
        member = service.verify_claim(token, current_app.config["EMAIL_TOKEN_MAX_AGE"])
    except TokenError as exc:
        return render_template(
            "auth/token_error.html",
            expired=exc.expired,
            action="verify your claim",
            retry_url=url_for("brands.index"),
        ), 400
    except ServiceError as exc:
        return render_template(
            "auth/token_error.html",
            expired=False,
            message=str(exc),
            action="verify your claim",
            retry_url=url_for("brands.index"),
        ), 400
    flash(_("You are verified as speaking for %(brand)s.", brand=member.brand.name), "success")
    return redirect(url_for("brands.inbox", slug=member.brand.slug))


@bp.route("/<slug>/inbox")
@login_required
def inbox(slug: str):
    """What the brand has received: verified members (and moderators) only."""
    brand = _brand(slug)
    if not current_user.answers_for(brand.id):
        abort(403)
    deliveries = (
        db.session.execute(
            select(Delivery)
            .where(Delivery.brand_id == brand.id, Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at.desc())
        )
        .scalars()
        .all()
    )
    return render_template("brands/inbox.html", brand=brand, deliveries=deliveries, link=delivery_link)


register_logo_routes(bp, _brand)
