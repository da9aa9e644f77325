"""The bare ceiling: a minimal Flask app doing the app's I/O with nothing else.

Served by gunicorn with the same workers and threads as the app (``bench.bare:app``), against
the same PostgreSQL and Redis, from the same environment (``DATABASE_URL``, ``REDIS_URL``).
Each route is what a hot path of the app costs at the least:

- ``POST /bare/<slug>/support``: read the form, one INSERT (``ON CONFLICT DO NOTHING``), one RQ
  enqueue, a 303 (no CSRF, validation, rate limit, ORM or session);
- ``POST /bare/<slug>/support-owed``: the same, the support owed its confirmation email (its
  row of ``confirmations_owed`` inserted by the same statement, as the app's signing writes
  it), for the bare end to end: a bare
  dispatcher (``python -m bench.bare_jobs dispatch``) sends those emails meanwhile;
- ``GET /bare/confirm/<id>``: one UPDATE and one INSERT of a count delta in one transaction, the
  Redis flag that asks for a fold, one small template;
- ``GET /bare/<slug>``: one SELECT of the campaign row, one template render;
- ``GET /bare/<slug>/count.json``: one SELECT, JSON.

Each gunicorn thread keeps one psycopg connection; jobs go to the ``bench-bare`` queue, which
no worker takes (the bench empties it afterwards).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import psycopg
import pycountry
from flask import Flask, abort, jsonify, redirect, render_template, request
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))

_DB_URL = os.environ.get("DATABASE_URL", "")
_REDIS_URL = os.environ.get("REDIS_URL", "")
_local = threading.local()
_redis = Redis.from_url(_REDIS_URL) if _REDIS_URL else None
_queue = Queue("bench-bare", connection=_redis, serializer=JSONSerializer) if _redis else None
COUNTRIES = sorted(
    ((c.alpha_2, getattr(c, "common_name", c.name)) for c in pycountry.countries), key=lambda item: item[1]
)


def noop(support_id: int) -> None:
    """The job the bare sign route enqueues (never run: no worker takes its queue)."""


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(_DB_URL)
    return conn


@app.get("/bare/ping")
def ping():
    return "ok"


_INSERT = (
    "INSERT INTO supports (campaign_id, email, email_canonical, name, is_public, country,"
    " consents_to_updates, confirmation_sends, ip_address, created_at)"
    " SELECT id, %s, %s, %s, %s, %s, %s, 1, %s, now() FROM campaigns WHERE slug = %s"
    " ON CONFLICT (campaign_id, email_canonical) DO NOTHING RETURNING id"
)
#: The signature owed its confirmation email: the support and its row of ``confirmations_owed``
#: in one statement, as the app's signing writes them on PostgreSQL.
_INSERT_OWED = (
    "WITH s AS (" + _INSERT + ") INSERT INTO confirmations_owed (support_id, owed_at)"
    " SELECT id, now() FROM s RETURNING support_id"
)
INSERTS = {False: _INSERT, True: _INSERT_OWED}


@app.post("/bare/<slug>/support")
def support(slug: str):
    return _support(slug, owed=False)


@app.post("/bare/<slug>/support-owed")
def support_owed(slug: str):
    return _support(slug, owed=True)


def _support(slug: str, owed: bool):
    form = request.form
    email = form["email"].strip()
    conn = _conn()
    with conn.transaction():
        row = conn.execute(
            INSERTS[owed],
            [
                email,
                email.lower(),
                form["name"].strip(),
                "is_public" in form,
                form["country"],
                "consents_to_updates" in form,
                request.headers.get("X-Forwarded-For"),
                slug,
            ],
        ).fetchone()
    if row is not None:
        _queue.enqueue(noop, row[0], job_id=f"bare-confirm-{row[0]}", result_ttl=60)
    return redirect(f"/bare/{slug}/thanks", 303)


@app.get("/bare/confirm/<int:support_id>")
def confirm(support_id: int):
    conn = _conn()
    with conn.transaction():
        row = conn.execute(
            "UPDATE supports SET confirmed_at = now() WHERE id = %s AND confirmed_at IS NULL"
            " AND withdrawn_at IS NULL RETURNING campaign_id, country, coalesce(monthly_spend, 0)",
            [support_id],
        ).fetchone()
        if row is not None:
            conn.execute(
                "INSERT INTO count_deltas (campaign_id, country, delta, spend, day)"
                " VALUES (%s, %s, 1, %s, (now() AT TIME ZONE 'UTC')::date)",
                row,
            )
    if row is not None:
        _redis.set("bench:bare:fold-requested", 1, nx=True, ex=10)
    return render_template("bare_confirmed.html", confirmed_now=row is not None, slug="bench-bare")


def _campaign(slug: str):
    row = (
        _conn()
        .execute(
            "SELECT slug, title, summary, body, demand, confirmed_count, goal FROM campaigns WHERE slug = %s",
            [slug],
        )
        .fetchone()
    )
    _conn().rollback()  # end the read's transaction: no idle-in-transaction connections
    if row is None:
        abort(404)
    return dict(
        zip(("slug", "title", "summary", "body", "demand", "confirmed_count", "goal"), row, strict=True)
    )


@app.get("/bare/<slug>")
def page(slug: str):
    return render_template("bare_page.html", c=_campaign(slug), countries=COUNTRIES)


@app.get("/bare/<slug>/count.json")
def count(slug: str):
    conn = _conn()
    row = conn.execute("SELECT confirmed_count, goal FROM campaigns WHERE slug = %s", [slug]).fetchone()
    conn.rollback()
    if row is None:
        abort(404)
    response = jsonify(slug=slug, count=row[0], goal=row[1])
    response.cache_control.public = True
    response.cache_control.max_age = 2
    return response
