"""Supporting a campaign (the form on every campaign page) and the links emailed about it."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy import select

from campaign.auth.forms import ActionForm
from campaign.extensions import csrf, db
from campaign.i18n import current_language
from campaign.kinds import Kind
from campaign.models import Support, canonical_email, utcnow
from campaign.services import ServiceError
from campaign.services import stalls as stall_service
from campaign.services import supports as service
from campaign.sharing import coded_share_kit, parse_referral, referral_code
from campaign.supports.forms import SupportForm
from campaign.tokens import TokenError
from campaign.urls import campaign_url

bp = Blueprint("supports", __name__, url_prefix="/supports")


def support_form_for(campaign, csrf: bool = True) -> SupportForm:
    """The support form of ``campaign`` (or its terms), filled in for a member. ``csrf``
    False: without its token field (a page renders the token itself, see ``_form.html``)."""
    form = SupportForm.for_campaign(campaign, **({} if csrf else {"meta": {"csrf": False}}))
    if current_user.is_authenticated and not form.is_submitted():
        form.name.data = current_user.name
        form.email.data = current_user.email
    return form


def visitor_support(campaign) -> dict | None:
    """What this visitor already did on ``campaign``, for the page to say so.

    A member: their own support that still stands (``support``, ``pending``). A browser that
    supported without an account: the last support it sent, from its session, as the form
    answered it (pending unless the owner confirmed), so the page says no more than the
    thank-you page did.
    """
    if current_user.is_authenticated:
        support = db.session.execute(
            select(Support).where(
                Support.campaign_id == campaign.id,
                Support.user_id == current_user.id,
                Support.withdrawn_at.is_(None),
            )
        ).scalar_one_or_none()
        if support is not None:
            return {"support": support, "pending": support.email_confirmed_at is None, "member": True}
    last = session.get("last_support")
    if last:
        support = db.session.get(Support, last["id"])
        if support is not None and support.campaign_id == campaign.id and support.withdrawn_at is None:
            return {
                "support": support,
                "member": False,
                "pending": last["outcome"]
                not in (service.Outcome.CONFIRMED.value, service.Outcome.ALREADY_CONFIRMED.value),
            }
    return None


def public_support_form(campaign) -> SupportForm:
    """The form of the page every visitor gets: without a CSRF token (``csrf.js`` fetches
    the visitor's own), so that the page can be shared by all of them."""
    return SupportForm.for_campaign(campaign, meta={"csrf": False})


#: Shown when a support form comes without a valid token (from the cached page without
#: script, or an old or forged form); the form comes back filled in, with a token.
EXPIRED = _l(
    "This form had expired or came from another site. Nothing was saved: check your "
    "details and send it again."
)


def register_support_route(bp_kind: Blueprint, kind: Kind, load) -> None:
    """Add ``<kind>.support`` (POST the support form) to a kind's blueprint."""

    # No 429 here: the service stores a support over the per-IP limit as suspect (never
    # counted) and this view answers it like any other, so a bot learns nothing.
    @bp_kind.route("/<slug>/support", methods=["POST"])
    @csrf.exempt  # checked below, to answer a missing token with the filled-in form
    def support(slug: str):
        # A public campaign's terms (kept a second by this process) are all signing reads;
        # the campaign itself is loaded only to show its page again, or when it is not
        # public (only its organiser, co-authors and moderators may see it) or endorses
        # brands (the form offers them).
        terms = service.campaign_terms(kind.value, slug)
        if terms is None or not terms.is_public or kind.endorses_brands:
            campaign = load(slug)
            terms = None
        else:
            campaign = terms
        blueprint = campaign.blueprint
        # Its token is checked once, by csrf.protect() below (the form's own field would
        # make a token and check it again); a page sent back renders one.
        form = support_form_for(campaign, csrf=False)

        def sent_back():
            page = load(slug) if terms is not None else campaign
            return render_template("campaigns/show.html", campaign=page, form=form), 400

        try:
            csrf.protect()
        except CSRFError:
            form.form_errors.append(str(EXPIRED))
            return sent_back()
        if not form.validate_on_submit():
            return sent_back()
        channel, referrer = parse_referral(session.get(f"ref:{slug}"))
        try:
            result = service.add_support(
                campaign.id,
                **form.support_data(),
                user_id=current_user.id if current_user.is_authenticated else None,
                ip_address=get_remote_address(),
                referral=channel,
                referred_by_id=referrer,
                locale=current_language(),
                terms=terms,
            )
        except service.SupportRefused as exc:
            flash(str(exc), "error")
            return redirect(url_for(f"{blueprint}.show", slug=slug))
        except ServiceError as exc:
            form.form_errors.append(str(exc))
            return sent_back()
        outcome = result.outcome
        owner = current_user.is_authenticated and canonical_email(current_user.email) == canonical_email(
            form.email.data
        )
        if not owner and outcome != service.Outcome.CONFIRMED:
            # One answer for every address typed by someone who may not own it: whether it
            # already supports this campaign is told by email to its owner only.
            outcome = service.Outcome.PENDING
        session["last_support"] = {
            "id": result.support_id,
            "outcome": outcome.value,
            "email": form.email.data,
        }
        response = redirect(url_for("supports.thanks", slug=slug), 303)
        # It carries this visitor's session (and their email in it): private, never stored.
        response.cache_control.no_store = True
        response.cache_control.private = True
        return response


@bp.route("/stall/<token>", methods=["GET", "POST"])
def stall(token: str):
    """A stall's signing page, for a device many people use in turn (a tablet at the stall).

    After each support it comes back empty and keeps no trace of the last signer: nothing
    of theirs in the page or the session, autocomplete off, never stored by the browser
    (no-store, so Back shows nothing either), and never tied to whoever is logged in.
    """
    found = stall_service.stall_by_token(token)
    if found is None or not found.campaign.is_public:
        abort(404)
    campaign = found.campaign
    form = SupportForm.for_campaign(campaign)
    status = 200
    if not found.is_open():
        status = 410 if found.closed_at or found.closes_at <= utcnow() else 200
        return _no_store(
            render_template("supports/stall.html", stall=found, campaign=campaign, form=None, now=utcnow()),
            status,
        )
    if form.validate_on_submit():
        try:
            stall_service.sign_at_stall(
                found.id, form.support_data(), get_remote_address(), current_language()
            )
        except service.SupportRefused as exc:
            flash(str(exc), "error")
            return redirect(campaign_url(campaign))
        except ServiceError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(
                _(
                    "Thank you! Look for our email and open its link: the %(support)s counts "
                    "once you do. The form is ready for the next person.",
                    support=campaign.support_noun,
                ),
                "success",
            )
            return redirect(url_for("supports.stall", token=token), 303)
    if form.is_submitted():
        status = 400
    return _no_store(
        render_template("supports/stall.html", stall=found, campaign=campaign, form=form), status
    )


def _no_store(body: str, status: int):
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/form-token")
def form_token():
    """This visitor's CSRF token, for the support form of the shared public page
    (``static/js/csrf.js``). Never cached; other sites cannot read it (same-origin)."""
    return jsonify(csrf_token=generate_csrf())


@bp.route("/thanks/<slug>")
def thanks(slug: str):
    last = session.get("last_support")
    support = db.session.get(Support, last["id"]) if last else None
    if support is None or support.campaign.slug != slug:
        abort(404)
    campaign = support.campaign
    return render_template(
        "supports/thanks.html",
        support=support,
        campaign=campaign,
        outcome=last["outcome"],
        email=last.get("email", ""),
        share=_share_kit(campaign, referral_code(support.id)),
    )


@bp.route("/confirm/<token>")
def confirm(token: str):
    """A confirmation link opened by a member, or with a session (a visitor without one is
    answered by :mod:`campaign.supports.lane`, before Flask, with the same page)."""
    try:
        support, confirmed_now = service.confirm(token)
    except TokenError as exc:
        return render_template("supports/token_error.html", expired=exc.expired), 400
    withdraw = service.support_token("withdraw", support)
    return render_confirmed(support, confirmed_now, referral_code(support.id), withdraw)


def render_confirmed(support, confirmed_now: bool, code: str, withdraw_token: str) -> str:
    """The page of a confirmation link: ``support`` as :func:`service.confirm` read it, the
    supporter's referral ``code`` for the share prompt, the token of their withdraw link.
    The lane renders it with blanks for these and the name (so every value of the supporter
    is an argument here, not read by the template)."""
    campaign = support.campaign
    return render_template(
        "supports/confirmed.html",
        support=support,
        campaign=campaign,
        confirmed_now=confirmed_now,
        share=_share_kit(campaign, code),
        withdraw_url=url_for("supports.withdraw", token=withdraw_token),
    )


def _share_kit(campaign, code: str) -> dict | None:
    """The share prompt of a supporter whose referral code is ``code`` (none if the campaign
    is not public)."""
    if not campaign.is_public:
        return None
    return coded_share_kit(campaign_url(campaign, _external=True), campaign.title, code)


@bp.route("/withdraw/<token>", methods=["GET", "POST"])
def withdraw(token: str):
    try:
        support = service.support_from_token("withdraw", token, current_app.config["STANDING_TOKEN_MAX_AGE"])
    except TokenError as exc:
        return render_template("supports/token_error.html", expired=exc.expired), 400
    form = ActionForm()
    if form.validate_on_submit():
        service.withdraw(support.id)
        flash(_("Your support for “%(title)s” is withdrawn.", title=support.campaign.title), "info")
        return redirect(campaign_url(support.campaign))
    return render_template("supports/withdraw.html", support=support, form=form)


@bp.route("/<int:support_id>/withdraw", methods=["POST"])
@login_required
def withdraw_mine(support_id: int):
    support = db.session.get(Support, support_id)
    if support is None or support.user_id != current_user.id:
        abort(404)
    service.withdraw(support.id)
    flash(_("Your support for “%(title)s” is withdrawn.", title=support.campaign.title), "info")
    return redirect(url_for("accounts.profile"))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: mail clients POST here without a form; the token is the proof
def unsubscribe(token: str):
    try:
        support = service.support_from_token(
            "unsubscribe", token, current_app.config["STANDING_TOKEN_MAX_AGE"]
        )
    except TokenError as exc:
        return render_template("supports/token_error.html", expired=exc.expired), 400
    if request.method == "POST":
        service.unsubscribe(support.id)
        return render_template("supports/unsubscribed.html", support=support)
    return render_template("supports/unsubscribe.html", support=support)
