"""The lean prototype: the best a full Flask signing request can do, measured beside the bare
ceiling in the same run.

``POST /lean/<slug>/support`` does the bare ceiling's I/O and no more — **one** SQL statement
(``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``, the campaign's check, public and
open, inside it) and **one** Redis round trip (a Lua script: the per-address limit and the
"confirmation email waiting" flag a dispatcher would read) — plus what a real sign form
cannot drop: the form parsed and validated by a Flask-WTF form (name, email address,
country from the list, the two choices), the CSRF token checked against the cookie session,
and the session written back (the last support, as the app keeps it) in a new cookie.

``GET /lean/confirm/<token>`` is the same for confirming: the app's own emailed token (the
same key, purpose and age limit) checked by itsdangerous, **one** SQL statement in autocommit
(the support's state change, checked against the token's address, and its count delta, as
the app's ``WITH … UPDATE … RETURNING``), **one** Redis call (the fold asked for), and the
bare ceiling's small page: what a confirming request costs before the app's own page.

It answers the question the issue asks before calling 0.85 of the bare ceiling out of reach:
what is left between the bare ceiling and a Flask request that keeps the form, CSRF and the
session. It is not the app (no fraud rules, no outbox row, no translation): the gap between
it and the app is what the app's own design costs. Served by the bare ceiling's gunicorn
(``bench.ceilings:app``), with the app's ``SECRET_KEY``, so the app's prepared sign requests
(session cookie and CSRF token made by the same code) are valid here too.
"""

from __future__ import annotations

import hmac
import os
import threading

import psycopg
import pycountry
from flask import Flask, abort, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis import Redis
from werkzeug.wrappers import Request, Response
from wtforms import BooleanField, EmailField, Form, StringField
from wtforms.validators import AnyOf, DataRequired, Email, Length

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY", "lean-bench"),
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    WTF_CSRF_TIME_LIMIT=3600 * 8,
)

_DB_URL = os.environ.get("DATABASE_URL", "")
_local = threading.local()
_redis = Redis.from_url(os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else None

COUNTRIES = [(c.alpha_2, getattr(c, "common_name", c.name)) for c in pycountry.countries]
#: The codes, checked as the app's ``CountryField`` checks them: in a set, not a scan of 249
#: choices (WTForms' ``SelectField`` builds an object per choice on every validation).
COUNTRY_CODES = frozenset(code for code, _name in COUNTRIES)

#: One round trip: count this address's signatures on this campaign for a minute, and (when
#: the support was not refused) raise the flag a confirmation dispatcher polls at most once a
#: second. Returns the count.
LIMIT_AND_FLAG = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 60) end
redis.call('SET', KEYS[2], '1', 'NX', 'EX', 10)
return n
"""
_limit_and_flag = _redis.register_script(LIMIT_AND_FLAG) if _redis else None

#: The support and its campaign's check in one statement; ``suspect`` set when over the limit.
INSERT = (
    "INSERT INTO supports (campaign_id, email, email_canonical, name, is_public, country,"
    " consents_to_updates, confirmation_sends, ip_address, suspect, created_at)"
    " SELECT id, %s, %s, %s, %s, %s, %s, 1, %s, %s, now() FROM campaigns"
    " WHERE slug = %s AND state = 'open'"
    " ON CONFLICT (campaign_id, email_canonical) DO NOTHING RETURNING id"
)


class Fields:
    name = StringField(validators=[DataRequired(), Length(max=100)])
    email = EmailField(validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    country = StringField(validators=[DataRequired(), AnyOf(COUNTRY_CODES)])
    is_public = BooleanField()
    consents_to_updates = BooleanField()


class SignForm(Fields, FlaskForm):
    pass


class PlainSignForm(Fields, Form):
    """The same fields as a plain WTForms form: no Flask request behind it."""


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(_DB_URL)
    return conn


def _autocommit_conn() -> psycopg.Connection:
    """A connection of this thread whose single statements need no BEGIN or COMMIT."""
    conn = getattr(_local, "autocommit", None)
    if conn is None or conn.closed:
        conn = _local.autocommit = psycopg.connect(_DB_URL, autocommit=True)
    return conn


#: The app's confirmation tokens (campaign.tokens: the purpose is the salt), read as it reads them.
_CONFIRM_TOKENS = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="groundswell.confirm-support")
CONFIRM_MAX_AGE = 7 * 24 * 3600  # the app's SUPPORT_TOKEN_MAX_AGE

#: The app's confirmation in one statement: a held (suspect) support is confirmed apart and
#: not counted; a counted one gets its delta; the page's campaign read on the same snapshot.
CONFIRM = """
WITH confirmed AS (
    UPDATE supports SET
        confirmed_at = CASE WHEN suspect IS NOT NULL THEN confirmed_at ELSE now() END,
        suspect_confirmed_at = CASE WHEN suspect IS NOT NULL THEN now() ELSE suspect_confirmed_at END
    WHERE id = %(id)s AND email_canonical = %(email)s AND withdrawn_at IS NULL
      AND ((suspect IS NULL AND confirmed_at IS NULL)
           OR (suspect IS NOT NULL AND suspect_confirmed_at IS NULL))
    RETURNING campaign_id, country, monthly_spend, suspect
), delta AS (
    INSERT INTO count_deltas (campaign_id, country, delta, spend, day)
    SELECT campaign_id, country, 1, coalesce(monthly_spend, 0), (now() AT TIME ZONE 'UTC')::date
    FROM confirmed WHERE suspect IS NULL
)
SELECT campaigns.slug,
       (SELECT count(*) FROM confirmed) > 0,
       (SELECT count(*) FROM confirmed WHERE suspect IS NULL) > 0
FROM supports JOIN campaigns ON campaigns.id = supports.campaign_id
WHERE supports.id = %(id)s AND supports.email_canonical = %(email)s
"""


def _sign(slug: str, form: Fields, address: str) -> dict:
    """The one Redis script and the one statement; what the session keeps of the support."""
    count = _limit_and_flag(keys=[f"lean:limit:{slug}:{address}", "lean:confirmations-waiting"])
    email = form.email.data.strip()
    conn = _conn()
    with conn.transaction():
        row = conn.execute(
            INSERT,
            [
                email,
                email.lower(),
                form.name.data.strip(),
                form.is_public.data,
                form.country.data,
                form.consents_to_updates.data,
                address,
                "rate_limit" if count > 1 else None,
                slug,
            ],
        ).fetchone()
    return {"id": row[0] if row else None, "outcome": "pending", "email": email}


@app.get("/lean/ping")
def ping():
    return "ok"


@app.post("/lean/<slug>/support")
def support(slug: str):
    form = SignForm()
    if not form.validate_on_submit():  # the CSRF token against the session, then the fields
        return {"errors": form.errors}, 400
    address = request.headers.get("X-Forwarded-For", request.remote_addr or "")
    session["last_support"] = _sign(slug, form, address)
    return redirect(f"/lean/{slug}/thanks", 303)


@app.get("/lean/confirm/<token>")
def confirm(token: str):
    try:
        payload = _CONFIRM_TOKENS.loads(token, max_age=CONFIRM_MAX_AGE)
    except BadSignature:  # forged, or expired (SignatureExpired is one)
        abort(400)
    row = _autocommit_conn().execute(CONFIRM, {"id": payload.get("s"), "email": payload.get("e")}).fetchone()
    if row is None:
        abort(400)
    slug, confirmed_now, counted = row
    if counted and _redis is not None:
        _redis.set("lean:fold-requested", 1, nx=True, ex=10)
    return render_template("bare_confirmed.html", confirmed_now=confirmed_now, slug=slug)


# ---------------------------------------------------------------- the same without Flask

#: The app's session cookie read and written as Flask reads and writes it (its serializer).
_SESSIONS = SecureCookieSessionInterface().get_signing_serializer(app)
#: Flask-WTF's CSRF tokens: the session's raw token, signed with this salt.
_CSRF_TOKENS = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")


def raw_support(environ, start_response):
    """``POST /lean/raw/<slug>/support``: the lean prototype's signing without Flask: the
    request parsed by werkzeug, the session cookie opened and written back with Flask's own
    serializer, the CSRF token checked as Flask-WTF checks it (signed, not older than its
    limit, equal to the session's), the fields validated by the same WTForms fields, then the
    same one statement and one Redis script. What a request costs that keeps the form, CSRF
    and the session and drops Flask's request machinery (a lane before Flask, as the app's
    confirmation links have)."""
    req = Request(environ)
    slug = req.path.split("/")[3]
    try:
        sess = _SESSIONS.loads(req.cookies.get("session", ""), max_age=31 * 24 * 3600)
        raw_token = _CSRF_TOKENS.loads(
            req.form.get("csrf_token", ""), max_age=app.config["WTF_CSRF_TIME_LIMIT"]
        )
    except BadSignature:
        return Response("bad session or CSRF token", 400)(environ, start_response)
    if not isinstance(raw_token, str) or not hmac.compare_digest(raw_token, sess.get("csrf_token", "")):
        return Response("bad CSRF token", 400)(environ, start_response)
    form = PlainSignForm(req.form)
    if not form.validate():
        return Response(str(form.errors), 400)(environ, start_response)
    sess["last_support"] = _sign(slug, form, req.headers.get("X-Forwarded-For", req.remote_addr or ""))
    response = Response(status=303, headers={"Location": f"/lean/{slug}/thanks"})
    response.set_cookie("session", _SESSIONS.dumps(sess), httponly=True, samesite="Lax")
    return response(environ, start_response)
