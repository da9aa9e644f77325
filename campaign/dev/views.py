"""Development only: read the file outbox in the browser to click the links in emails.

Registered only when ``SHOW_OUTBOX`` is on (development and testing, never production).
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

from flask import Blueprint, abort, render_template

from campaign.mail import outbox_folder

bp = Blueprint("dev", __name__, url_prefix="/dev")

_NAME = re.compile(r"^[0-9T]+-[0-9a-f]{8}\.eml$")


def _read(path):
    with path.open("rb") as fh:
        return BytesParser(policy=policy.default).parse(fh)


@bp.route("/outbox")
def outbox():
    folder = outbox_folder()
    messages = []
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.eml"), reverse=True)[:200]:
            message = _read(path)
            messages.append({"name": path.name, "to": message["To"],
                             "subject": message["Subject"], "date": message["Date"]})
    return render_template("dev/outbox.html", messages=messages, folder=folder)


@bp.route("/outbox/<name>")
def message(name: str):
    folder = outbox_folder()
    if folder is None or not _NAME.match(name) or not (folder / name).is_file():
        abort(404)
    parsed = _read(folder / name)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    return render_template("dev/message.html", message=parsed, text=text, name=name)
