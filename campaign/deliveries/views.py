"""A brand's private delivery page, the public verify page, and supporters' verdicts."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaign import packages, signing
from campaign.auth.forms import ActionForm
from campaign.deliveries import bp
from campaign.deliveries.forms import AnswerForm, VerifyFileForm, VerifyForm
from campaign.extensions import db
from campaign.models import Delivery, Response, Stance, VerdictChoice
from campaign.services import ServiceError
from campaign.services import deliveries as service
from campaign.services.supports import support_from_token
from campaign.tokens import TokenError, read_token
from campaign.urls import campaign_url


def _delivery(token: str) -> Delivery:
    """The delivery a private link is for; anyone without a valid link is refused (403)."""
    try:
        payload = read_token("delivery", token, current_app.config["DELIVERY_LINK_MAX_AGE"])
    except TokenError:
        abort(403)
    delivery = db.session.get(Delivery, payload.get("d"))
    if delivery is None or delivery.sent_at is None:
        abort(403)
    return delivery


@bp.route("/deliveries/<token>", methods=["GET", "POST"])
def show(token: str):
    """The private page a brand's contact opens: the package, and the form to answer."""
    delivery = _delivery(token)
    if request.method == "GET":
        service.mark_opened(delivery.id)
        db.session.refresh(delivery)
    form = AnswerForm()
    if current_user.is_authenticated and not form.is_submitted():
        form.author_name.data = current_user.name
    if form.validate_on_submit():
        try:
            service.answer(
                delivery.campaign_id,
                delivery.brand_id,
                author_name=form.author_name.data,
                stance=Stance(form.stance.data),
                body=form.body.data,
                commitment=form.commitment.data,
                commitment_due=form.commitment_due.data,
                delivery_id=delivery.id,
                author_id=current_user.id if current_user.is_authenticated else None,
            )
        except ServiceError as exc:
            form.commitment.errors.append(str(exc))
        else:
            flash(
                _(
                    "Your answer is published on the campaign page, and supporters who asked for "
                    "updates will be told."
                ),
                "success",
            )
            campaign = delivery.campaign
            return redirect(campaign_url(campaign))
    return render_template(
        "deliveries/show.html", delivery=delivery, campaign=delivery.campaign, token=token, form=form
    ), 200 if not form.errors else 400


@bp.route("/deliveries/<token>/<any('summary.pdf', 'signatures.csv', 'statement.json'):name>")
def download(token: str, name: str):
    delivery = _delivery(token)
    files = packages.package_files(delivery)
    path = files[{"summary.pdf": "pdf", "signatures.csv": "csv", "statement.json": "statement"}[name]]
    if not path.is_file():
        abort(404)
    return send_file(
        path, as_attachment=True, download_name=f"{delivery.campaign.slug}-round-{delivery.round}-{name}"
    )


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Check a package, by its digest and seal or by one of its files, and show what it
    certifies. A file that differs by one byte from what was delivered does not verify."""
    form = VerifyForm(request.args)
    file_form = VerifyFileForm()
    result = None
    if request.method == "POST":
        if file_form.validate_on_submit():
            result = {"delivery": packages.delivery_for_file(file_form.package_file.data.stream)}
            result["valid"] = result["delivery"] is not None
    elif request.args and form.validate():
        delivery = None
        if packages.seal_is_valid(form.digest.data, form.seal.data):
            delivery = db.session.execute(
                select(Delivery).filter_by(digest=form.digest.data.lower())
            ).scalar_one_or_none()
        result = {"valid": delivery is not None, "delivery": delivery}
    failed = (request.args and form.errors) or file_form.errors
    return render_template(
        "deliveries/verify.html",
        form=form,
        file_form=file_form,
        result=result,
        keys=signing.key_list(),
        messages=offline_messages(),
    ), 400 if failed else 200


def offline_messages() -> dict[str, str]:
    """What the in-browser check (static/js/verify.js) says, in the reader's language."""
    return {
        "valid": _("Valid"),
        "not_valid": _("Not valid"),
        "choose_file": _("Choose the receipt or the signed statement to check."),
        "malformed": _("This file is not a receipt or a signed statement of Groundswell."),
        "unknown_key": _("It was not signed with one of our published keys."),
        "key_not_valid": _("It was signed with one of our keys, but outside the period that key was in use."),
        "bad_signature": _(
            "The signature does not match: the statement was altered, or signed with another key."
        ),
        "not_in_tree": _("This entry is not in the delivered round: the receipt was altered."),
        "file_differs": _(
            "%(name)s is not the file that was delivered: it differs from what the statement certifies."
        ),
        "count_differs": _("The CSV does not hold as many signatures as the statement certifies."),
        "receipt_valid": _(
            "The signature of %(name)s is in round %(round)s, delivered to "
            "%(brand)s on %(date)s. Signatures in that round: %(count)s."
        ),
        "statement_valid": _(
            "Our signed statement of round %(round)s, delivered to %(brand)s "
            "on %(date)s (signatures: %(count)s)."
        ),
        "files_valid": _("The files you chose are the ones delivered."),
        "no_files": _("Choose the PDF and the CSV too, to check them against it."),
        "key_used": _("Checked on your device with our key %(key)s."),
    }


@bp.route("/responses/<int:response_id>/verdict/<token>", methods=["GET", "POST"])
def verdict(response_id: int, token: str):
    """A supporter says whether the brand's answer meets the demand (a link in the email)."""
    response = db.session.get(Response, response_id)
    if response is None:
        abort(404)
    try:
        support = support_from_token("verdict", token, current_app.config["STANDING_TOKEN_MAX_AGE"])
    except TokenError as exc:
        return render_template("supports/token_error.html", expired=exc.expired), 400
    form = ActionForm()
    if form.validate_on_submit():
        try:
            choice = VerdictChoice(request.form.get("choice", ""))
        except ValueError:
            flash(_("Choose one of the three answers."), "error")
        else:
            try:
                service.record_verdict(response.id, support.id, choice)
            except ServiceError as exc:
                flash(str(exc), "error")
            else:
                flash(_("Thank you: your view is counted under the answer."), "success")
                campaign = response.campaign
                return redirect(campaign_url(campaign) + f"#response-{response.id}")
    return render_template("deliveries/verdict.html", response=response, support=support, form=form)
