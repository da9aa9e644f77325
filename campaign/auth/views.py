"""Sign up, log in and out, verify an email address, reset a password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from campaign.auth.forms import (
    ActionForm,
    EmailOnlyForm,
    LoginForm,
    ResetPasswordForm,
    SignupForm,
)
from campaign.extensions import db, limiter
from campaign.i18n import current_language
from campaign.models.user import new_session_token
from campaign.services import ServiceError, accounts
from campaign.tokens import TokenError

bp = Blueprint("auth", __name__)


def safe_next(default: str = "main.home") -> str:
    """The ``next`` target if it stays on this site, else ``default``'s URL."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    # A control character (CR/LF) would split the Location header: such a target is junk.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and not parts.scheme
        and "\\" not in target
        and target.isprintable()
    ):
        return target
    return url_for(default)


def _signup_limit() -> str:
    return current_app.config["RATELIMIT_SIGNUP"]


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _per_account(purpose: str):
    """A rate-limit key of the address typed, known or not (so a 429 tells nothing)."""
    return lambda: f"{purpose}:" + request.form.get("email", "").strip().lower()[:254]


def _account_limit(setting: str):
    return lambda: current_app.config[setting]


def _accepted(response) -> bool:
    # A form sent back with mistakes hashed nothing and emailed nobody: it does not count.
    return response.status_code == 302


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
# Per address too: each sign-up hashes a password and may email the address's owner.
@limiter.limit(
    _account_limit("RATELIMIT_SIGNUP_ACCOUNT"),
    key_func=_per_account("signup"),
    methods=["POST"],
    deduct_when=_accepted,
)
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = SignupForm()
    if form.validate_on_submit():
        # The same answer whether or not the address has an account (its owner is emailed).
        accounts.register(form.email.data, form.name.data, form.password.data, locale=current_language())
        session["signup_email"] = form.email.data.strip().lower()
        return redirect(url_for("auth.check_email"))
    return render_template("auth/signup.html", form=form)


@bp.route("/signup/check-email")
def check_email():
    email = session.get("signup_email")
    if not email:
        return redirect(url_for("auth.signup"))
    return render_template("auth/check_email.html", email=email)


def _login_failures_key() -> str:
    # The account typed and the address guessing it: failures from one place limit that
    # place only, so nobody can lock an owner (or a moderator) out of their own account.
    return _per_account("login")() + "@" + get_remote_address()


_login_failures_anywhere = _per_account("login-anywhere")


def _failed(response) -> bool:
    return response.status_code in (200, 400)  # the form again: the password did not match


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
# Per account and address too: guessing one account's password from one place is slow.
@limiter.limit(
    _account_limit("RATELIMIT_LOGIN_ACCOUNT"),
    key_func=_login_failures_key,
    methods=["POST"],
    deduct_when=_failed,
)
# And per account from everywhere (many machines guessing), higher: past it, the owner gets
# in by an emailed reset link, which logs them in (the 429 page says so).
@limiter.limit(
    _account_limit("RATELIMIT_LOGIN_ACCOUNT_ANYWHERE"),
    key_func=_login_failures_anywhere,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next())
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            flash(_("Welcome back, %(name)s.", name=user.name), "success")
            return redirect(safe_next())
        form.password.errors.append(_("That email and password do not match an account."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # A new token ends this session and any remembered device.
        current_user.session_token = new_session_token()
        db.session.commit()
        logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.home"))


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify(token: str):
    """The link in the verification email. Opening it shows a button; the POST verifies, so a
    mail scanner that opens links cannot verify an address for whoever typed it."""
    form = ActionForm()
    try:
        user = accounts.user_for_verify_token(token)
        if not form.validate_on_submit():
            return render_template("auth/confirm_email.html", user=user, form=form)
        user, verified = accounts.verify_email(token)
        if verified and not current_user.is_authenticated:
            login_user(user)  # the link proves the address, like the password would, once
    except TokenError as exc:
        return render_template(
            "auth/token_error.html",
            expired=exc.expired,
            action=_("confirm your email address"),
            retry_url=url_for("auth.resend_verification"),
        ), 400
    except ServiceError as exc:
        return render_template(
            "auth/token_error.html",
            expired=False,
            message=str(exc),
            action=_("confirm your email address"),
            retry_url=url_for("auth.resend_verification"),
        ), 400
    flash(_("Thank you: %(email)s is confirmed.", email=user.email), "success")
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("auth.login"))


@bp.route("/verify-email", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
@limiter.limit(
    _account_limit("RATELIMIT_RESET_ACCOUNT"),
    key_func=_per_account("verify"),
    methods=["POST"],
    deduct_when=_accepted,
)
def resend_verification():
    form = EmailOnlyForm()
    if current_user.is_authenticated and request.method == "GET":
        form.email.data = current_user.email
    if form.validate_on_submit():
        accounts.request_verification_for(form.email.data)
        flash(_("If that address has an unconfirmed account, a new link is on its way."), "info")
        return redirect(url_for("main.home"))
    return render_template("auth/resend.html", form=form)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(_signup_limit, methods=["POST"])
@limiter.limit(
    _account_limit("RATELIMIT_RESET_ACCOUNT"),
    key_func=_per_account("reset"),
    methods=["POST"],
    deduct_when=_accepted,
)
def request_reset():
    form = EmailOnlyForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        flash(
            _(
                "If that address has an account, a link to reset the password is on its way. "
                "It works for two hours."
            ),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        accounts.user_for_reset_token(token)
    except TokenError as exc:
        return render_template(
            "auth/token_error.html",
            expired=exc.expired,
            action=_("reset your password"),
            retry_url=url_for("auth.request_reset"),
        ), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user = accounts.reset_password(token, form.password.data)
        login_user(user)
        flash(_("Your new password is set; other devices have been logged out."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/account/verify-again", methods=["POST"])
@login_required
def resend_mine():
    if not current_user.is_verified:
        accounts.request_verification(current_user.id)
        flash(_("A new confirmation link is on its way to %(email)s.", email=current_user.email), "info")
    return redirect(url_for("accounts.profile"))
