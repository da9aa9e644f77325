"""Development only: read the file outbox in the browser to click the links in emails.

Registered only when ``SHOW_OUTBOX`` is on (development and testing, never production).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from flask import Blueprint, abort, make_response, render_template

from campaign.mail import outbox_folder

bp = Blueprint("dev", __name__, url_prefix="/dev")

_NAME = re.compile(r"^[0-9T]+-[0-9a-f]{8}\.eml$")


def _read(path):
    with path.open("rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


def _sent_at(message) -> datetime | None:
    """The instant of ``message``'s Date header in UTC (a "-0000" zone, naive, is UTC too);
    None without a readable one."""
    when = getattr(message["Date"], "datetime", None)
    if when is None:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


@bp.route("/outbox")
def outbox():
    folder = outbox_folder()
    messages = []
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.eml"), reverse=True)[:200]:
            message = _read(path)
            messages.append(
                {
                    "name": path.name,
                    "to": message["To"],
                    "subject": message["Subject"],
                    "sent_at": _sent_at(message),
                }
            )
    return render_template("dev/outbox.html", messages=messages, folder=folder)


# The HTML part is shown as the person sees it, but it is not our page: it runs in a sandbox
# (no script, no same-origin access, nothing loaded but inline styles and data: images), and
# its links open in a new tab, since our pages refuse to be framed.
HTML_PART_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


def _parsed(name: str):
    folder = outbox_folder()
    if folder is None or not _NAME.match(name) or not (folder / name).is_file():
        abort(404)
    return _read(folder / name)


@bp.route("/outbox/<name>")
def message(name: str):
    parsed = _parsed(name)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    has_html = parsed.get_body(preferencelist=("html",)) is not None
    return render_template(
        "dev/message.html",
        message=parsed,
        sent_at=_sent_at(parsed),
        text=text,
        name=name,
        has_html=has_html,
    )


@bp.route("/outbox/<name>/html")
def message_html(name: str):
    part = _parsed(name).get_body(preferencelist=("html",))
    if part is None:
        abort(404)
    html = part.get_content()
    html = re.sub(r"(<head[^>]*>)", r'\1<base target="_blank">', html, count=1, flags=re.I)
    response = make_response(html)
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
