"""The language switcher's route (the endpoint ``i18n.set_language``)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request
from flask_login import current_user

from campaign.auth.views import safe_next
from campaign.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES
from campaign.services.accounts import set_language as remember

bp = Blueprint("i18n", __name__)


@bp.route("/language/<code>")
def set_language(code: str):
    """Remember the chosen language in a cookie and go back to the page it was chosen on;
    a member's emails follow the choice too.

    A plain link (no form, no script): it changes only the language this person reads.
    """
    if code not in LANGUAGES:
        abort(404)
    if current_user.is_authenticated and current_user.locale != code:
        remember(current_user.id, code)
    response = redirect(safe_next())
    response.set_cookie(
        COOKIE, code, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True, secure=request.is_secure
    )
    return response
