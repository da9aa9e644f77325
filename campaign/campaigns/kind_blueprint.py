"""One blueprint per campaign kind, built from the routes every kind has.

Each kind's blueprint package (``campaign/petitions/views.py`` …) passes its definition
(:mod:`campaign.kinds`), its form and its own routes; the endpoints read ``petitions.new``,
``petitions.show``, ``petitions.edit``, ``petitions.submit``. What the definition says the
kind does adds its routes here too: a kind that delivers gets ``deliver`` and
``retry_delivery``, a kind that escalates gets ``escalate``. No kind has a route it cannot use.
"""

from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from campaign.acting import act
from campaign.campaigns import public_page
from campaign.campaigns.delivering import register_delivery_routes
from campaign.campaigns.escalating import register_escalation_routes
from campaign.campaigns.forms import CampaignForm
from campaign.campaigns.launch_kit import register_launch_kit_routes
from campaign.campaigns.organiser import register_organiser_routes
from campaign.campaigns.reasons import register_reason_routes
from campaign.extensions import db, limiter
from campaign.kinds.base import Kind
from campaign.models import Campaign
from campaign.page_queries import comments_page_number
from campaign.pictures.views import register_picture_routes
from campaign.search import similar_open_campaigns
from campaign.security import EMBED_CSP
from campaign.services import ServiceError
from campaign.services import campaigns as service
from campaign.sharing import REFERRAL, share_card, share_card_key, share_links
from campaign.supports.views import (
    public_support_form,
    register_support_route,
    support_form_for,
    visitor_support,
)
from campaign.urls import campaign_url


def can_view(campaign: Campaign) -> bool:
    """Visitors see public campaigns; the organiser, co-authors and moderators see every
    state."""
    if campaign.is_public:
        return True
    return current_user.is_authenticated and (
        current_user.id == campaign.organiser_id
        or current_user.is_moderator
        or any(c.user_id == current_user.id for c in campaign.coauthors)
    )


def similar_to(form: CampaignForm, campaign: Campaign | None = None) -> list[Campaign]:
    """Open campaigns to the chosen brand like the title written (shown on the form, for
    those without script: similar.js shows them while typing)."""

    brand_id = form.target_brand_id.data if "target_brand_id" in form else None
    if not brand_id or not form.title.data:
        return []
    return similar_open_campaigns(brand_id, form.title.data, exclude_id=campaign.id if campaign else None)


def _campaign_limit() -> str:
    return current_app.config["RATELIMIT_CAMPAIGN_CREATE"]


def kind_blueprint(kind: Kind, form_class: type[CampaignForm], own_routes=None) -> Blueprint:
    """The blueprint of ``kind``: the routes every kind has, those its definition asks for,
    and ``own_routes(bp, load, organiser_only)``, the routes only it has."""
    model = kind.model
    bp = Blueprint(kind.name, __name__, url_prefix=f"/{kind.name}")

    def load(slug: str) -> Campaign:
        # Its organiser and brand, which every page of it names, in the same query.
        found = (
            db.select(model)
            .filter_by(slug=slug)
            .options(joinedload(model.organiser), joinedload(model.target_brand))
        )
        campaign = db.session.execute(found).scalar_one_or_none()
        if campaign is None or not can_view(campaign):
            abort(404)
        return campaign

    def organiser_only(view):
        @wraps(view)
        @login_required
        def wrapper(slug: str, **kwargs):
            campaign = load(slug)
            if campaign.organiser_id != current_user.id:
                abort(403)
            return view(campaign, **kwargs)

        return wrapper

    def new():
        if not current_user.is_verified:
            flash(
                _(
                    "Confirm your email address before starting a %(noun)s: "
                    "we sent you a link when you signed up.",
                    noun=kind.noun,
                ),
                "warning",
            )
            return redirect(url_for("accounts.profile"))
        form = form_class()
        form.prepare()
        if form.validate_on_submit():
            try:
                campaign = service.create_campaign(model, current_user.id, form.campaign_data())
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    _(
                        "Your %(noun)s is saved as a draft. Submit it for review when it is ready.",
                        noun=kind.noun,
                    ),
                    "success",
                )
                return redirect(campaign_url(campaign))
        return render_template(
            "campaigns/form.html", form=form, kind=kind, campaign=None, similar=similar_to(form)
        ), 400 if form.errors else 200

    # Flask-Limiter files a decorated view's limits under its qualified name, the same for
    # every kind's ``new``: each kind's own name keeps one request from counting four times.
    new.__qualname__ = f"kind_blueprint.{kind.name}.new"
    # Only accepted forms count: an organiser fixing mistakes must not run into the limit.
    limited = limiter.limit(
        _campaign_limit, methods=["POST"], deduct_when=lambda response: response.status_code == 302
    )(new)
    bp.route("/new", methods=["GET", "POST"])(login_required(limited))

    @bp.route("/<slug>")
    def show(slug: str):
        ref = request.args.get("ref", "")
        if public_page.same_for_every_visitor() and not REFERRAL.match(ref):
            # Only a page with comments reads a query parameter (its page of comments).
            variant = comments_page_number() if kind.has_comments else None
            return public_page.response(kind.name, slug, lambda: render_public(slug), variant=variant)
        campaign = load(slug)
        if REFERRAL.match(ref):
            session[f"ref:{slug}"] = ref  # credited to the share if this visitor supports
        return render_show(campaign, support_form_for(campaign), mine=visitor_support(campaign))

    def render_public(slug: str) -> str:
        campaign = load(slug)
        return render_show(campaign, public_support_form(campaign), csrf_deferred=True)

    def render_show(campaign: Campaign, form, csrf_deferred: bool = False, mine: dict | None = None) -> str:
        url = campaign_url(campaign, _external=True)
        return render_template(
            "campaigns/show.html",
            campaign=campaign,
            form=form,
            share_url=url,
            share_links=share_links(url, campaign.title),
            csrf_deferred=csrf_deferred,
            mine=mine,
        )

    @bp.route("/<slug>/embed")
    def embed(slug: str):
        """The embeddable widget: count, progress and a button to the campaign. The only
        page any site may frame."""
        campaign = load(slug)
        if not campaign.is_public:
            abort(404)
        response = make_response(render_template("campaigns/embed.html", campaign=campaign))
        response.headers["Content-Security-Policy"] = EMBED_CSP
        response.cache_control.public = True
        response.cache_control.max_age = 30
        return response

    @bp.route("/<slug>/share.png")
    def share_png(slug: str):
        """The card shown when the campaign is shared (cached by browsers and networks)."""
        campaign = load(slug)
        etag = share_card_key(campaign)
        if request.if_none_match.contains(etag):
            return "", 304
        png = share_card(campaign)
        response = make_response(png)
        response.mimetype = "image/png"
        response.set_etag(etag)
        response.vary.add("Accept-Language")  # the card's words are in the visitor's language
        response.vary.add("Cookie")
        response.cache_control.public = True
        response.cache_control.max_age = 600
        return response

    @bp.route("/<slug>/updates.atom")
    def updates_feed(slug: str):
        campaign = load(slug)
        body = render_template(
            "feeds/updates.atom.xml",
            campaign=campaign,
            updated=max(
                [u.created_at for u in campaign.updates], default=campaign.published_at or campaign.created_at
            ),
        )
        return Response(body, mimetype="application/atom+xml")

    @bp.route("/<slug>/edit", methods=["GET", "POST"])
    @organiser_only
    def edit(campaign: Campaign):
        if not campaign.is_editable:
            flash(_("This %(noun)s can no longer be edited.", noun=kind.noun), "warning")
            return redirect(campaign_url(campaign))
        form = form_class()
        form.prepare()
        if form.validate_on_submit():
            try:
                service.update_campaign(campaign.id, current_user.id, form.campaign_data())
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(_("Your changes are saved."), "success")
                return redirect(campaign_url(campaign))
        elif not form.is_submitted():
            form.fill_from(campaign)
        return render_template(
            "campaigns/form.html",
            form=form,
            kind=kind,
            campaign=campaign,
            similar=similar_to(form, campaign),
        ), 400 if form.errors else 200

    @bp.route("/<slug>/submit", methods=["POST"])
    @organiser_only
    def submit(campaign: Campaign):
        return act(
            lambda: service.submit_for_review(campaign.id, current_user.id),
            done=_(
                "Submitted. A moderator will review it, usually within a day; you will see the decision here."
            ),
            then=campaign_url(campaign),
        )

    register_support_route(bp, kind, load)
    register_picture_routes(bp, organiser_only)
    register_reason_routes(bp, load, organiser_only)
    register_launch_kit_routes(bp, organiser_only)
    register_organiser_routes(bp, load, organiser_only)
    if kind.delivers:
        register_delivery_routes(bp, organiser_only)
    if kind.escalates_to is not None:
        register_escalation_routes(bp, organiser_only)
    if own_routes is not None:
        own_routes(bp, load, organiser_only)
    return bp
