"""Your data: ask for a link by email, then download it or erase it."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from campaign.auth.forms import ActionForm, EmailOnlyForm
from campaign.extensions import limiter
from campaign.i18n import current_language
from campaign.services import privacy as service
from campaign.tokens import TokenError, read_token

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _email(token: str) -> str:
    return read_token("privacy", token, current_app.config["PRIVACY_TOKEN_MAX_AGE"])["e"]


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_SIGNUP"], methods=["POST"])
def request_link():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        service.request_link(email, current_language())
        flash(_("We sent a link to %(email)s. It works for a day.", email=email), "info")
        return redirect(url_for("privacy.request_link"))
    return render_template("privacy/request.html", form=form)


@bp.route("/<token>")
def show(token: str):
    try:
        email = _email(token)
    except TokenError as exc:
        return render_template(
            "auth/token_error.html",
            expired=exc.expired,
            action="see your data",
            retry_url=url_for("privacy.request_link"),
        ), 400
    return render_template("privacy/show.html", data=service.data_for(email), token=token, form=ActionForm())


@bp.route("/<token>/data.json")
def download(token: str):
    try:
        email = _email(token)
    except TokenError:
        return {"error": {"status": 400, "message": "This link is not valid or has expired."}}, 400
    body = json.dumps(service.data_for(email), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="groundswell-my-data.json"'},
    )


@bp.route("/<token>/erase", methods=["POST"])
def erase(token: str):
    try:
        email = _email(token)
    except TokenError as exc:
        return render_template(
            "auth/token_error.html",
            expired=exc.expired,
            action="erase your data",
            retry_url=url_for("privacy.request_link"),
        ), 400
    if not ActionForm().validate_on_submit():
        return redirect(url_for("privacy.show", token=token))
    erased = service.erase(email)
    return render_template("privacy/erased.html", erased=erased)
