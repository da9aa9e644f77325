"""Browsing and searching campaigns of every kind, topics, and choosing which kind to start."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from campaign import hot_cache
from campaign.campaigns.kind_blueprint import can_view
from campaign.extensions import db
from campaign.i18n import CountryNames
from campaign.kinds import KINDS
from campaign.models import Brand, Campaign, CampaignKind, CampaignState, Topic, utcnow
from campaign.search import (
    DEFAULT_SORT,
    SORTS,
    STATE_FILTERS,
    Filters,
    brand_group_label,
    browse_page,
    find_brands,
    highlight,
    page_number,
    similar_open_campaigns,
)
from campaign.supports.forms import COUNTRY_NAMES
from campaign.urls import campaign_url

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
topics_bp = Blueprint("topics", __name__, url_prefix="/topics")


def sort_labels() -> dict[str, str]:
    return {
        "trending": _("Trending"),
        "newest": _("Newest"),
        "supported": _("Most supported"),
        "closing": _("Closing soon"),
        "won": _("Recently won"),
    }


def state_labels() -> dict[CampaignState, str]:
    return {CampaignState.OPEN: _("Open"), CampaignState.WON: _("Won"), CampaignState.CLOSED: _("Closed")}


def filters_from_request(topic: Topic | None = None) -> tuple[Filters, list[str], list[Brand]]:
    """The filters the query string asks for, the errors in it, and brands like the one
    typed when none is called that (a no-script brand filter lists them)."""
    args, errors = request.args, []
    filters = Filters(query=args.get("q", "").strip()[:100], topic=topic)
    if kind := args.get("kind"):
        try:
            filters.kind = CampaignKind(kind)
        except ValueError:
            abort(404)
    if state := args.get("state"):
        try:
            filters.state = CampaignState(state)
        except ValueError:
            filters.state = None
        if filters.state not in STATE_FILTERS:
            filters.state = None
            errors.append(_("Choose a state from the list."))
    if sort := args.get("sort"):
        if sort in SORTS:
            filters.sort = sort
        else:
            errors.append(_("Choose a sort from the list."))
    if country := args.get("country", "").upper():
        if country in COUNTRY_NAMES:
            filters.country = country
        else:
            errors.append(_("Choose a country from the list."))
    if topic is None and (topic_slug := args.get("topic")):
        filters.topic = db.session.execute(db.select(Topic).filter_by(slug=topic_slug)).scalar_one_or_none()
        if filters.topic is None:
            errors.append(_("Choose a topic from the list."))
    alike: list[Brand] = []
    if brand_text := " ".join(args.get("brand", "").split())[:120]:
        filters.brand = _brand_named(brand_text)
        if filters.brand is None:
            alike = find_brands(brand_text)
            errors.append(
                _("No brand is called “%(name)s”.", name=brand_text)
                + " "
                + (_("Choose one of those below.") if alike else _("Check the spelling."))
            )
    return filters, errors, alike


def _brand_named(text: str) -> Brand | None:
    """The approved brand with this slug, or this name in any case."""
    return db.session.execute(
        db.select(Brand)
        .where(
            Brand.approved_at.is_not(None), (Brand.slug == text) | (db.func.lower(Brand.name) == text.lower())
        )
        .order_by(Brand.id)
        .limit(1)
    ).scalar_one_or_none()


#: Each filter's ``<option>``s, rendered once per language and list of topics.
_OPTIONS: dict[tuple, dict[str, str]] = {}


def _topic_rows() -> tuple[tuple[str, str, str], ...]:
    """(slug, name, Spanish name) of every topic, by name."""
    rows = db.session.execute(db.select(Topic.slug, Topic.name, Topic.name_es).order_by(Topic.name))
    return tuple(tuple(row) for row in rows)


def _options(pairs) -> str:
    return "".join(f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in pairs)


def filter_options(filters: Filters) -> dict[str, Markup]:
    """The ``<option>``s of the sort, kind, state, topic and country filters, the chosen ones
    marked. Rendered once per language and topic list (250 countries and a dozen translated
    names through the template were a fifth of a search page); the topics are read at most
    once per ``HOT_CACHE_SECONDS``, as the other lists a page shows to everyone."""
    language = str(get_locale())
    topics = hot_cache.cached(("topic-rows",), _topic_rows)
    options = _OPTIONS.get((language, topics))
    if options is None:
        options = {
            "sort": _options(sort_labels().items()),
            "kind": _options((k.value, kind.nouns) for k, kind in KINDS.items()),
            "state": _options((s.value, label) for s, label in state_labels().items()),
            "topic": _options(
                (slug, Topic.name_in(language, name, name_es)) for slug, name, name_es in topics
            ),
            "country": _options(CountryNames(COUNTRY_NAMES).choices()),
        }
        if len(_OPTIONS) >= 100:  # topic lists come and go: keep only recent ones
            _OPTIONS.clear()
        _OPTIONS[(language, topics)] = options
    chosen = {
        "sort": filters.sort or ("" if filters.query else DEFAULT_SORT),
        "kind": filters.kind.value if filters.kind else "",
        "state": filters.state.value if filters.state else "",
        "topic": filters.topic.slug if filters.topic else "",
        "country": filters.country or "",
    }
    return {name: _chosen(html, chosen[name]) for name, html in options.items()}


def _chosen(options: str, value: str) -> Markup:
    if value:
        marker = f'<option value="{escape(value)}">'
        options = options.replace(marker, marker[:-1] + " selected>", 1)
    return Markup(options)


def render_browse(topic: Topic | None = None):
    filters, errors, alike = filters_from_request(topic)
    page = browse_page(filters, page_number(), current_app.config["CAMPAIGNS_PER_PAGE"])
    args = {k: v for k, v in request.args.items() if k != "page" and not k.startswith("_") and v}
    body = render_template(
        "campaigns/browse.html",
        page=page,
        filters=filters,
        errors=errors,
        brands_alike=alike,
        kinds=KINDS,
        topic=topic,
        args=args,
        highlight=highlight,
        options=filter_options(filters),
        endpoint="topics.show" if topic else "campaigns.browse",
        endpoint_args={"slug": topic.slug} if topic else {},
    )
    return body, 400 if errors else 200


@bp.route("/")
def browse():
    """Every public campaign: searched, filtered, sorted and paged, with no script needed."""
    return render_browse()


def _id_arg(name: str) -> int | None:
    """A row id from the query string (None for anything else, however large)."""
    value = request.args.get(name, type=int)
    return value if value is not None and 0 < value < 2**31 else None


@bp.route("/similar.json")
def similar():
    """Open campaigns to a brand (or its group) like the title being typed: suggestions to
    join one instead of splitting support, never a block."""
    brand_id, exclude = _id_arg("brand"), _id_arg("exclude")
    title = request.args.get("title", "")[:150]
    if not brand_id:
        return jsonify(
            error={"status": 400, "message": "brand must be a brand's id", "parameter": "brand"}
        ), 400
    found = similar_open_campaigns(brand_id, title, exclude_id=exclude)
    return jsonify(
        campaigns=[
            {
                "title": c.title,
                "kind": c.kind.value,
                "count": c.confirmed_count,
                "label": f"{format_decimal(c.confirmed_count)} {c.count_noun}",
                "url": campaign_url(c),
            }
            for c in found
        ]
    )


@bp.route("/brands.json")
def brands():
    """Approved brands like what is typed, with the group owning each (the brand picker)."""
    found = find_brands(request.args.get("q", ""))
    return jsonify(
        brands=[{"id": b.id, "name": b.name, "slug": b.slug, "group": brand_group_label(b)} for b in found]
    )


@bp.route("/new")
def choose_kind():
    return render_template("campaigns/choose.html", kinds=KINDS)


@bp.route("/<slug>")
def by_slug(slug: str):
    """A kind-neutral address that forwards to the campaign's own page."""
    campaign = db.session.execute(db.select(Campaign).filter_by(slug=slug)).scalar_one_or_none()
    if campaign is None or not can_view(campaign):
        abort(404)
    return redirect(campaign_url(campaign), 301)


def _topic(slug: str) -> Topic:
    topic = db.session.execute(db.select(Topic).filter_by(slug=slug)).scalar_one_or_none()
    if topic is None:
        abort(404)
    return topic


@topics_bp.route("/")
def index():
    topics = db.session.execute(db.select(Topic).order_by(Topic.name)).scalars().all()
    return render_template("campaigns/topics.html", topics=topics)


@topics_bp.route("/<slug>")
def show(slug: str):
    """A topic's campaigns, with the same search, filters and sorts as browsing."""
    return render_browse(_topic(slug))


@topics_bp.route("/<slug>.atom")
def feed(slug: str):
    """The topic's newest public campaigns, as an Atom feed."""
    topic = _topic(slug)
    newest = browse_page(Filters(topic=topic, sort="newest"), 1, 50).items
    body = render_template(
        "feeds/topic.atom.xml",
        topic=topic,
        campaigns=newest,
        updated=max((c.published_at for c in newest), default=utcnow()),
    )
    return Response(body, mimetype="application/atom+xml")
