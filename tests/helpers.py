"""Helpers the tests share: forms with CSRF, logging in, reading mail, an SMTP collector,
running the queues with a real worker, reading a stored count, pictures to upload, counting
the requests that reached Flask."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import request_started
from PIL import Image
from rq import SimpleWorker
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from campaign.extensions import db
from campaign.models import Campaign

#: Headers a response answered before Flask must send as Flask would (with the response's own).
BEFORE_FLASK_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Cache-Control",
    "Vary",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Cross-Origin-Opener-Policy",
    "Strict-Transport-Security",
    "Set-Cookie",
)

#: Screenshots and other pictures a person should look at after a run.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def read_outbox(folder: Path) -> list:
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.eml")):
        with path.open("rb") as fh:
            messages.append(BytesParser(policy=policy.default).parse(fh))
    return messages


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path_prefix: str) -> str:
    """The first link in ``message``'s text whose path starts with ``path_prefix``."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]*)", body_text(message))
    assert match, f"no link to {path_prefix} in:\n{body_text(message)}"
    return match.group(1)


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, page: str | None = None) -> str:
    """A valid CSRF token for ``client``'s session.

    Every form of a session takes the same token, so by default it is asked of
    ``/supports/form-token`` (what the shared public page's script does), which costs a small
    JSON answer instead of a whole page. With ``page``, it is read from that page's form.
    """
    if page is None:
        response = client.get("/supports/form-token")
        assert response.status_code == 200, response.status
        return response.get_json()["csrf_token"]
    for url in (page, "/account/", "/signup", "/login"):
        match = _TOKEN.search(client.get(url).get_data(as_text=True))
        if match:
            return match.group(1)
    raise AssertionError("no page rendered a CSRF token")


def post_form(client, url: str, data: dict, page: str | None = None, **kwargs):
    """POST ``data`` to ``url`` with the session's CSRF token (read from ``page`` if given)."""
    token = csrf_token(client, page)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def login(client, email: str, password: str = "correct horse battery"):
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def cached_count(campaign) -> int:
    """The count stored on ``campaign`` (what the fold job wrote), read in a fresh snapshot."""
    db.session.commit()
    return db.session.get(Campaign, campaign.id).confirmed_count


class Collector:
    """An SMTP handler that keeps every envelope it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


class BurstWorker(SimpleWorker):
    """A real RQ worker for one burst, without the pub/sub channel a long-lived worker listens
    on for commands (``rq`` sends "stop the job" and "shut down" there; nothing does in a
    test), whose listening thread took a quarter of a second to stop after every burst."""

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


def work_queues(app) -> tuple[int, list[str]]:
    """Run every queued job with a real RQ SimpleWorker in burst mode.

    Call it in a fresh ``contextvars.Context``, like a real worker process: its own app
    context, database session and SQLite transaction mode. Returns the number of jobs that
    were queued and the tracebacks of the jobs that failed.
    """
    from rq.registry import FailedJobRegistry
    from rq.serializers import JSONSerializer

    from campaign.queue import get_queue, redis_connection

    with app.app_context():
        queues = [get_queue(name) for name in app.config["RQ_QUEUES"]]
        before = sum(q.count for q in queues)
        BurstWorker(queues, connection=redis_connection(), serializer=JSONSerializer).work(
            burst=True, with_scheduler=False
        )
        failures = []
        for q in queues:
            for job_id in FailedJobRegistry(queue=q).get_job_ids():
                job = q.fetch_job(job_id)
                failures.append(f"{job.func_name}\n{job.latest_result().exc_string}")
        return before, failures


# ---------------------------------------------------------------------------- pictures


def picture_bytes(fmt: str = "JPEG", size=(1600, 900), color=(200, 80, 40), gps: bool = False):
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 40):  # some detail, so encodings differ by content
        image.paste((20, 120, 200), (x, 0, x + 20, size[1] // 3))
    out = io.BytesIO()
    kwargs = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Camera maker"  # Make
        exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS: latitude
        kwargs["exif"] = exif
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def post_picture(client, url: str, data: bytes, alt: str, filename: str):
    """POST the picture form, encoded in memory (the test client would spool a large body to
    a temporary file it never closes)."""
    fields = {
        "csrf_token": csrf_token(client, url),
        "alt": alt,
        "picture": FileStorage(io.BytesIO(data), filename),
    }
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def upload(
    client, campaign, data: bytes, alt: str = "Pickers in a field at dawn", filename: str = "picture.jpg"
):
    return post_picture(client, f"/{campaign.blueprint}/{campaign.slug}/picture", data, alt, filename)


@contextmanager
def flask_requests(app):
    """Counts the requests that reached Flask's request machinery (not answered before it)."""
    seen = []

    def started(sender, **extra):
        seen.append(1)

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)


class Sink:
    """An SMTP handler that keeps (recipient, Message-ID) of each message it takes.

    ``pipelining`` adds PIPELINING to its EHLO reply (aiosmtpd reads each command in
    order from the stream, as RFC 2920 asks of a server, but does not say so itself).
    ``drop_after`` makes it drop the connection instead of taking a message once it has
    taken that many; ``hang_after`` makes it never answer one (a worker then waits, and
    can be killed mid-batch). ``refuse`` is a set of addresses refused for good (550)."""

    def __init__(self, pipelining=False, drop_after=None, hang_after=None, refuse=()):
        self.pipelining = pipelining
        self.drop_after = drop_after
        self.hang_after = hang_after
        self.refuse = set(refuse)
        self.taken: list[tuple[str, str]] = []
        self.connections = 0
        self.hanging = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_after is not None and len(self.taken) >= self.drop_after:
            server.transport.close()
            return "421 Going away"
        if self.hang_after is not None and len(self.taken) >= self.hang_after:
            self.hanging = True
            await asyncio.sleep(3600)
        headers = BytesParser(policy=policy.default).parsebytes(envelope.content, headersonly=True)
        for rcpt in envelope.rcpt_tos:
            self.taken.append((rcpt, headers["Message-ID"]))
        return "250 Message accepted"


def serve_smtp(handler) -> Controller:
    """A real aiosmtpd server for ``handler`` on a free loopback port, started."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def without_link_times(value) -> str:
    """``value`` with the time (and so the signature) of each signed link left out: a
    second may pass between two renderings. What each link signs is still compared."""
    return re.sub(r"\.[\w-]{6}\.[\w-]{27}\b", ".(time and signature)", str(value))
