"""Proofs anyone can check: the public keys, the public log, supporters' receipts, the verifier.

Everything here is read-only and public, except a receipt, which only its supporter reaches
(through the signed link in the "delivered" email, or from their account).
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Response, abort, current_app, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from campaign import packages, signing
from campaign.converters import ID_MAX
from campaign.deliveries import bp
from campaign.extensions import db
from campaign.models import Support, utcnow
from campaign.services import transparency
from campaign.services.supports import support_from_token
from campaign.tokens import TokenError

VERIFIER = Path(__file__).resolve().parent.parent / "verifier" / "verify_proof.py"


def _json(document, filename: str | None = None, max_age: int = 60) -> Response:
    response = Response(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", mimetype="application/json"
    )
    response.headers["Access-Control-Allow-Origin"] = "*"  # mirrors fetch it from anywhere
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/.well-known/groundswell-keys.json")
def keys():
    """Every public key that has signed for this deployment, with its validity period."""
    return _json(signing.key_list(), max_age=300)


@bp.route("/log.json")
def log_json():
    """The whole public log: the latest signed tree head and every signed entry."""
    return _json(transparency.log_document())


@bp.route("/log/heads/<int:size>.json")
def log_head(size: int):
    """The signed tree head of the log when it held ``size`` entries."""
    head = transparency.head_of_size(size)
    if head is None:
        abort(404)
    return _json(transparency.document_of(head), max_age=86400)


def log_size(raw: str) -> int:
    """A size of the log from a query string: 0..ID_MAX (ValueError outside: not given)."""
    value = int(raw)
    if not 0 <= value <= ID_MAX:
        raise ValueError(f"{value} is not a size of the log")
    return value


@bp.route("/log/consistency.json")
def log_consistency():
    """The proof that the log at ``second`` entries extends the log at ``first``."""
    first = request.args.get("first", type=log_size)
    second = request.args.get("second", type=log_size)
    if first is None or second is None:
        return _json({"error": "give first and second, two sizes of the log"}), 400
    try:
        proof = transparency.consistency(first, second)
    except ValueError as exc:
        return _json({"error": str(exc)}), 400
    return _json(proof, max_age=86400)


@bp.route("/log.atom")
def log_atom():
    """The newest entries of the public log, as an Atom feed."""
    items = []
    for row in transparency.entries_newest(50):
        payload = json.loads(row.statement)["payload"]
        if row.kind == "delivery":
            payload = json.loads(payload["statement"])
        items.append((row, payload))
    head = transparency.latest_head()
    body = render_template(
        "feeds/log.atom.xml", items=items, head=head, updated=head.created_at if head else utcnow()
    )
    return Response(body, mimetype="application/atom+xml")


@bp.route("/verify/verify_proof.py")
def verifier_script():
    """The standalone verifier (Python, needs only the ``cryptography`` package)."""
    return send_file(VERIFIER, mimetype="text/x-python", as_attachment=True, download_name="verify_proof.py")


def _receipt_page(support: Support, json_url: str):
    delivery = packages.delivery_of(support)
    proof = packages.receipt(delivery, support) if delivery else None
    if proof is None:
        return render_template("deliveries/receipt.html", support=support, proof=None), 404
    return render_template(
        "deliveries/receipt.html",
        support=support,
        delivery=delivery,
        proof=proof,
        leaf=json.loads(proof["leaf"]),
        json_url=json_url,
        proof_json=json.dumps(proof, indent=2, ensure_ascii=False),
    )


def _receipt_json(support: Support):
    delivery = packages.delivery_of(support)
    proof = packages.receipt(delivery, support) if delivery else None
    if proof is None:
        abort(404)
    return _json(proof, filename=f"receipt-{delivery.campaign.slug}-round-{delivery.round}.json", max_age=0)


def _support_for_receipt(token: str) -> Support:
    try:
        return support_from_token("receipt", token, current_app.config["STANDING_TOKEN_MAX_AGE"])
    except TokenError:
        abort(403)


@bp.route("/receipts/<token>")
def receipt(token: str):
    """A supporter's receipt, from the link in the "delivered" email."""
    return _receipt_page(_support_for_receipt(token), url_for("deliveries.receipt_json", token=token))


@bp.route("/receipts/<token>/receipt.json")
def receipt_json(token: str):
    return _receipt_json(_support_for_receipt(token))


def _my_support(support_id: int) -> Support:
    support = db.session.get(Support, support_id)
    if support is None or support.user_id != current_user.id:
        abort(404)
    return support


@bp.route("/account/receipts/<int:support_id>")
@login_required
def my_receipt(support_id: int):
    """A member's receipt for one of their supports, from their account."""
    return _receipt_page(
        _my_support(support_id), url_for("deliveries.my_receipt_json", support_id=support_id)
    )


@bp.route("/account/receipts/<int:support_id>/receipt.json")
@login_required
def my_receipt_json(support_id: int):
    return _receipt_json(_my_support(support_id))
