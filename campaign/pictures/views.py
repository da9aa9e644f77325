"""Uploading a campaign's picture or a brand's logo, and serving the stored files."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from campaign import media
from campaign.acting import act
from campaign.auth.forms import ActionForm
from campaign.models import Brand, Campaign
from campaign.pictures.forms import PictureForm
from campaign.services import ServiceError
from campaign.services import pictures as service
from campaign.urls import campaign_url

bp = Blueprint("media", __name__)

#: A year: a stored file's name is the hash of its content, so it never changes.
MAX_AGE = 365 * 24 * 3600
#: Room for the form's other fields around a picture of the largest size allowed.
FORM_SLACK = 512 * 1024


@bp.route("/media/<name>")
def file(name: str):
    path = media.path_of(name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype=media.mimetype(name), max_age=MAX_AGE, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def accepts_upload(view):
    """Mark a view that takes a picture: its requests may be larger than MAX_CONTENT_LENGTH."""
    view.accepts_upload = True
    return view


def register_upload_limit(app: Flask) -> None:
    # A URL value preprocessor runs before every before_request function, and those (the
    # CSRF check among them) read the form: the limit must be raised before they do.
    @app.url_value_preprocessor
    def allow_pictures(endpoint, _values):
        if getattr(app.view_functions.get(endpoint), "accepts_upload", False):
            request.max_content_length = app.config["MEDIA_MAX_BYTES"] + FORM_SLACK


def upload(form: PictureForm, save) -> bool:
    """Validate ``form`` and call ``save(data, alt)``; errors go on the form. True if saved."""
    if not form.validate_on_submit():
        return False
    try:
        if not form.picture.data:
            raise media.PictureError(_("Choose a picture to upload."))
        save(media.read_upload(form.picture.data.stream), form.alt.data)
    except (media.PictureError, ServiceError) as exc:
        form.picture.errors = [*form.picture.errors, str(exc)]
        return False
    return True


def register_picture_routes(kind_bp: Blueprint, organiser_only) -> None:
    """Add ``<kind>.picture`` (add or replace) and ``<kind>.remove_picture``."""

    @kind_bp.route("/<slug>/picture", methods=["GET", "POST"])
    @accepts_upload
    @organiser_only
    def picture(campaign: Campaign):
        form = PictureForm()
        if request.method == "GET" and campaign.picture_alt:
            form.alt.data = campaign.picture_alt
        campaign_id, slug = campaign.id, campaign.slug
        if upload(
            form, lambda data, alt: service.set_campaign_picture(campaign_id, current_user.id, data, alt)
        ):
            flash(_("The picture is saved."), "success")
            return redirect(url_for(f"{kind_bp.name}.show", slug=slug))
        return render_template(
            "campaigns/picture_form.html", campaign=campaign, form=form, remove_form=ActionForm()
        ), 400 if form.errors else 200

    @kind_bp.route("/<slug>/picture/remove", methods=["POST"])
    @organiser_only
    def remove_picture(campaign: Campaign):
        if ActionForm().validate_on_submit():
            return act(
                lambda: service.remove_campaign_picture(campaign.id, current_user.id),
                done=_("The picture is removed."),
                category="info",
                then=campaign_url(campaign),
            )
        return redirect(campaign_url(campaign))


def register_logo_routes(brands_bp: Blueprint, load_brand) -> None:
    """Add ``brands.logo`` and ``brands.remove_logo``: verified members and moderators."""

    def editable(slug: str) -> Brand:
        brand = load_brand(slug)
        if not current_user.answers_for(brand.id):
            abort(403)
        return brand

    @brands_bp.route("/<slug>/logo", methods=["GET", "POST"])
    @accepts_upload
    @login_required
    def logo(slug: str):
        brand = editable(slug)
        form = PictureForm()
        if request.method == "GET" and brand.logo_alt:
            form.alt.data = brand.logo_alt
        brand_id, brand_slug = brand.id, brand.slug
        if upload(form, lambda data, alt: service.set_brand_logo(brand_id, current_user.id, data, alt)):
            flash(_("The logo is saved."), "success")
            return redirect(url_for("brands.show", slug=brand_slug))
        return render_template(
            "brands/logo_form.html", brand=brand, form=form, remove_form=ActionForm()
        ), 400 if form.errors else 200

    @brands_bp.route("/<slug>/logo/remove", methods=["POST"])
    @login_required
    def remove_logo(slug: str):
        brand = editable(slug)
        if ActionForm().validate_on_submit():
            service.remove_brand_logo(brand.id, current_user.id)
            flash(_("The logo is removed."), "info")
        return redirect(url_for("brands.show", slug=brand.slug))


def picture_url(row, size: str = "page") -> str | None:
    """The address of a campaign's picture (or a brand's logo) in ``size``, or None."""
    key = getattr(row, "picture", None) if isinstance(row, Campaign) else getattr(row, "logo", None)
    if not key:
        return None
    return url_for("media.file", name=media.file_name(key, "logo" if isinstance(row, Brand) else size))
