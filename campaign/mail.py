"""Building and sending email. Only jobs send; a service names the email's job in its
transaction and the outbox enqueues it after the commit.

The transport is chosen by ``MAIL_URL``:

- ``file:///path/to/outbox`` writes each message as an ``.eml`` file (the development default);
- ``smtp://user:password@host:port`` sends by SMTP (``smtp+starttls://`` upgrades the
  connection, ``smtps://`` uses TLS from the start).
"""

from __future__ import annotations

import binascii
import functools
import json
import logging
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale, get_translations
from jinja2 import Environment, Template
from jinja2.ext import InternationalizationExtension
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.i18n import LANGUAGES
from campaign.models import MailReceipt, utcnow
from campaign.models.base import UTCDateTime
from campaign.tokens import keyed_hex

log = logging.getLogger(__name__)


class PermanentMailError(Exception):
    """The mail server refused this recipient for good (a 5xx reply): retrying cannot help."""


@dataclass
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    #: Set by send_once from the receipt key: a resend of the same email has the same id.
    message_id: str | None = None

    def to_message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = self.message_id or make_msgid(domain="groundswell.localhost")
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message

    def to_bytes(
        self,
        sender: str,
        date: datetime | None = None,
        boundary: str | None = None,
        eight_bit: bool = False,
    ) -> bytes | None:
        """The message :meth:`to_message` builds, as the bytes SMTP sends (CRLF lines; headers
        RFC 2047-encoded where not ASCII; both parts quoted-printable unless ``eight_bit``), written
        directly: the ``email`` package's header objects and generator cost more than the
        rest of a fan-out's email together. None for an address that is not ASCII (it needs
        SMTPUTF8: :meth:`to_message` and ``send_message`` handle it). ``date`` (now) and the
        MIME ``boundary`` (random) are given by a test that compares two messages' bytes.

        ``eight_bit``: the server offers 8BITMIME (RFC 6152), so a part whose every line
        fits SMTP's 998 octets goes as it is, in UTF-8 (``8bit``, or ``7bit`` when ASCII),
        not quoted-printable, which was a fifth of a confirmation batch's CPU. The sender
        then says ``BODY=8BITMIME`` when the bytes are not ASCII (:func:`_mail_from`)."""
        if not self.to.isascii():
            return None
        boundary = boundary or f"=_{uuid.uuid4().hex}"
        lines = [
            _header("From", _address_header(sender)),
            _header("To", self.to),
            _header("Subject", self.subject),
            _header("Date", format_datetime(date) if date else _date_now()),
            _header("Message-ID", self.message_id or make_msgid(domain="groundswell.localhost")),
            *(_header(name, value) for name, value in self.headers.items()),
            "MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n',
            "\r\n",
        ]
        head = "".join(lines).encode("ascii")
        parts = []
        for subtype, body in (("plain", self.text), ("html", self.html)):
            encoding, content = _transfer_encoded(body, eight_bit)
            parts.append(
                f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
                + content
                + b"\r\n"  # the line break before a boundary belongs to it, not to the text
            )
        return head + b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")


def _header(name: str, value: str) -> str:
    if len(name) + len(value) <= 76 and value.isascii() and value.isprintable():
        return f"{name}: {value}\r\n"  # one line as it is (most of an email's headers)
    return _folded_header(name, value)


@functools.lru_cache(maxsize=64)
def _folded_header(name: str, value: str) -> str:
    # Cached: a batch's subject is the same for each of its readers.
    value = " ".join(value.splitlines())
    if not value.isascii():
        return _encoded_header(name, value)
    # Folded before a space where a line would pass 78 characters; a URL stays whole.
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > 78 and line.strip() and not line.endswith(":"):
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _date_now() -> str:
    """Now as a Date header gives it (to the second): written once a second, not per email."""
    return _date_of_second(int(utcnow().timestamp()))


@functools.lru_cache(maxsize=4)
def _date_of_second(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC))


@functools.lru_cache(maxsize=64)
def _encoded_header(name: str, value: str) -> str:
    # RFC 2047 words; a batch's subject is the same for each of its readers: encoded once.
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=chr(13) + chr(10))}\r\n"


@functools.lru_cache(maxsize=8)
def _address_header(sender: str) -> str:
    # "Name <address>" with the name encoded if it is not ASCII, and never the address.
    return formataddr(parseaddr(sender), charset="utf-8")


def _transfer_encoded(text: str, eight_bit: bool) -> tuple[str, bytes]:
    """A text part's Content-Transfer-Encoding and its content, CRLF lines.

    The 8-bit form is made from the UTF-8 bytes: a search or a replace in a text that is not
    ASCII walks its wide characters (3 µs for a 4 KB email with an accent), in bytes it takes
    a tenth of that, and UTF-8 leaves line breaks, NULs and ASCII as they are."""
    if eight_bit:
        data = text.encode("utf-8")
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        if not data.endswith(b"\n"):
            data += b"\n"  # as set_content does
        if b"\r" not in data and b"\0" not in data and _lines_fit(data):
            return ("7bit" if data.isascii() else "8bit"), data.replace(b"\n", b"\r\n")
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return "quoted-printable", _quoted_printable(text)


def _lines_fit(data: bytes, longest: int = 998) -> bool:
    """Whether every line of ``data`` (``\\n`` between lines) has at most ``longest`` octets:
    from each line's start, the last line break within the next ``longest + 1`` octets ends
    the lines that fit in them; none means a longer line. A jump of up to a thousand octets a
    step, where splitting made an object of every line (a tenth of an email's CPU)."""
    start, end = 0, len(data)
    while end - start > longest:
        found = data.rfind(b"\n", start, start + longest + 1)
        if found < 0:
            return False
        start = found + 1
    return True


def _quoted_printable(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    encoded = encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return encoded if encoded.endswith(b"\r\n") else encoded + b"\r\n"


def add_unsubscribe_headers(email: Email, url: str) -> None:
    """Mark ``email`` as a notice its reader can stop in one click (RFC 2369 and RFC 8058):
    mail clients show their own unsubscribe button, which POSTs to ``url``."""
    email.headers["List-Unsubscribe"] = f"<{url}>"
    email.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def render_email(template: str, to: str, subject: str, **context) -> Email:
    """Render ``templates/email/<template>.txt`` and ``.html`` into an :class:`Email`.

    Call it inside :func:`campaign.i18n.writing_to` to write in the recipient's language; a
    lazy ``subject`` is made text here, in that language."""
    subject = str(subject)
    context.setdefault("subject", subject)
    return Email(
        to=to,
        subject=subject,
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )


def compiled_templates(template: str, language: str) -> tuple[Template, Template]:
    """``templates/email/<template>.txt`` and ``.html`` compiled for ``language``, for a
    batch to render many emails with (:func:`batch_context`). Call it inside
    :func:`campaign.i18n.writing_to` that language.

    Each language has a Jinja environment of its own (an overlay of the app's: the same
    loader, filters, globals and options) with that language's translations bound to
    ``_``, so its templates are compiled once and each string is looked up directly, not
    found again through Flask-Babel for every call."""
    env = _mail_environment(language)
    return env.get_template(f"email/{template}.txt"), env.get_template(f"email/{template}.html")


def _mail_environment(language: str) -> Environment:
    environments = current_app.extensions.setdefault("groundswell.mail_environments", {})
    env = environments.get(language)
    if env is None:
        base = current_app.jinja_env
        env = base.overlay(cache_size=200)  # a cache of its own: templates bound to it
        env.globals = dict(base.globals)  # the overlay shares its parent's dict otherwise
        # A batch renders the same Markdown (an update's body) for every reader: once.
        env.filters = {
            name: functools.lru_cache(maxsize=32)(f) if name == "markdown" else f
            for name, f in base.filters.items()
        }
        i18n = next(ext for ext in env.extensions.values() if isinstance(ext, InternationalizationExtension))
        # The bound extension installs into this environment (the parent's
        # install_gettext_translations would install into the app's).
        i18n._install(get_translations(), newstyle=True)
        environments[language] = env
    return env


def compile_mail_templates() -> int:
    """Compile every email template (``templates/email/``, partials too) in every language
    now, as :func:`compiled_templates` would at a batch's first email; returns how many.

    A worker that forks a work-horse per job calls it before it forks: each job then finds
    its templates compiled, where it compiled them again (10 to 15 ms a language for the
    first email template with its layout and partials) and threw them away when it ended."""
    names = current_app.jinja_env.list_templates(filter_func=lambda name: name.startswith("email/"))
    for language in LANGUAGES:
        with force_locale(language):
            env = _mail_environment(language)
            for name in names:
                env.get_template(name)
    return len(names) * len(LANGUAGES)


def batch_context(**context) -> dict:
    """``context`` with what the app's context processors add (as ``render_template`` does,
    the values given win), computed once for a batch's emails in one language."""
    full: dict = {}
    current_app.update_template_context(full)
    full.update(context)
    return full


def send(email: Email) -> None:
    """Send ``email`` through the configured transport; raises on failure so the job retries."""
    message = email.to_message(current_app.config["MAIL_FROM"])
    url = urlsplit(current_app.config["MAIL_URL"])
    if url.scheme == "file":
        _write_file(Path(unquote(url.path)), message)
    elif url.scheme in {"smtp", "smtps", "smtp+starttls"}:
        _send_smtp(url, message)
    else:
        raise RuntimeError(f"MAIL_URL scheme {url.scheme!r} is not file, smtp or smtps")


def _write_file(folder: Path, message: EmailMessage) -> None:
    _write_bytes(folder, message.as_bytes())


def _write_bytes(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    partial = final.with_suffix(".part")
    partial.write_bytes(data)
    partial.rename(final)  # readers never see half a message


def _send_smtp(url, message: EmailMessage) -> None:
    shared = _shared_connection.get()
    if shared is None:
        with _open_smtp(url) as client:
            _deliver(client, message)
        return
    if shared.client is None:
        shared.client = _open_smtp(url)
    try:
        _deliver(shared.client, message)
    except PermanentMailError:
        raise  # the connection is still good: the server refused this one message
    except Exception:
        shared.close()  # the next email opens a new connection
        raise


def _open_smtp(url) -> smtplib.SMTP:
    host, port = url.hostname or "localhost", url.port
    timeout = 30
    if url.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port or 465, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port or 25, timeout=timeout)
    try:
        if url.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
    except Exception:
        client.close()
        raise
    return client


def _deliver(client: smtplib.SMTP, message: EmailMessage) -> None:
    try:
        client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentMailError(f"recipient refused ({codes[0]})") from exc
        raise
    except smtplib.SMTPDataError as exc:
        if exc.smtp_code >= 500:
            raise PermanentMailError(f"message refused ({exc.smtp_code})") from exc
        raise


class _SharedConnection:
    client: smtplib.SMTP | None = None

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _quit(client)


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


_shared_connection: ContextVar[_SharedConnection | None] = ContextVar("smtp_connection", default=None)


def one_connection(func: Callable) -> Callable:
    """Send every email ``func`` sends over one SMTP connection (a fan-out batch of hundreds),
    opened at its first email and closed when it returns; a failed send drops the connection
    and the next email opens another. Each email is still sent and committed on its own."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        shared = _SharedConnection()
        token = _shared_connection.set(shared)
        try:
            return func(*args, **kwargs)
        finally:
            _shared_connection.reset(token)
            shared.close()

    return wrapper


def outbox_folder() -> Path | None:
    """The folder of the file transport, or None when mail goes by SMTP."""
    url = urlsplit(current_app.config["MAIL_URL"])
    return Path(unquote(url.path)) if url.scheme == "file" else None


def receipt_message_id(key: str) -> str:
    """The Message-ID of the email with receipt ``key``, the same on every send.

    The one window exactly-once cannot close is a worker killed after the mail server took
    the message and before the receipt committed: the retry sends it again. With the same
    Message-ID, mail systems that deduplicate by it show it once, and a resend can be told
    from a second email. Keyed with the secret, so ids differ between installations.
    """
    return f"<{keyed_hex(key.encode())[:32]}@groundswell.localhost>"


def send_once(key: str, email: Email) -> bool:
    """Send ``email`` unless a receipt for ``key`` exists; commits the receipt with the send.

    The receipt row is inserted before sending, in the same transaction: a concurrent or
    repeated run waits on the unique key and then finds it, so it sends nothing. If sending
    fails the receipt is rolled back and the error propagates for RQ to retry.
    Returns True if this call sent the email.
    """
    db.session.add(MailReceipt(key=key, recipient=email.to))
    email.message_id = receipt_message_id(key)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    try:
        send(email)
    except PermanentMailError as exc:
        # Keep the receipt, marked: one dead mailbox must not stop a batch or be retried.
        db.session.execute(update(MailReceipt).where(MailReceipt.key == key).values(error=str(exc)[:300]))
        db.session.commit()
        return False
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return True


# ------------------------------------------------------------------ a batch, each email once


class ClaimHeld(Exception):
    """Some of a batch's receipts are claimed by another run whose claim has not lapsed (it is
    still sending, or its worker died mid-batch): this run sent the others and fails, so that
    RQ retries it; once the claim has lapsed the retry sends what the other run left unmarked."""


class ClaimLapsing(Exception):
    """A batch has been sending for half its claim: it stops before another run could take
    its receipts over, marks what it sent and fails, so that the retry sends the rest."""


def send_batch_once(owed: dict[str, str], compose: Callable[[list[str]], Iterable[tuple[str, Email]]]) -> int:
    """Send each email of a batch at most once; returns how many this run sent.

    ``owed`` maps each email's receipt key to its address; ``compose(keys)`` yields ``(key,
    Email)`` for the keys this run claimed (it is only asked for those). One statement claims
    every receipt of ``owed`` not yet sent and not claimed by a live run, and that claim is
    committed, with whatever the caller added to the session. The emails go over one
    connection (:func:`send_each`, pipelined where the server offers it), each with its
    receipt's Message-ID. One statement marks those the server took (and one more those it
    refused for good, if any), and that is committed.

    A worker killed in between leaves its receipts claimed and unmarked: the next run, once
    the claim has lapsed (``MAIL_CLAIM_SECONDS``), sends exactly those again, with the same
    Message-IDs, so the window in which an email can be sent twice is this run's unmarked
    ones (at most a batch), where sending one at a time made it at most one email. A send
    that fails marks what the server took before it, releases the claim on the rest and
    re-raises, so the job is retried at once. Raises :class:`ClaimHeld`, after sending the
    others, if another run's claim stands on some of ``owed``.
    """
    if not owed:
        db.session.commit()
        return 0
    lease = current_app.config["MAIL_CLAIM_SECONDS"]
    now = utcnow()
    claimed = _claim(owed, now, now - timedelta(seconds=lease))
    db.session.commit()
    held = _count_unsent([key for key in owed if key not in claimed]) if len(claimed) < len(owed) else 0
    keys = [key for key in owed if key in claimed]  # in the caller's order
    sent = _send_claimed(keys, compose, time.monotonic() + lease / 2) if claimed else 0
    if held:
        raise ClaimHeld(f"{held} emails of this batch are claimed by another run")
    return sent


def _claim(owed: dict[str, str], now, stale) -> set[str]:
    """``INSERT … ON CONFLICT (key) DO UPDATE … WHERE`` unsent and unclaimed or lapsed
    ``RETURNING key``: the keys this run now holds.

    The batch's keys and addresses go as two arrays (PostgreSQL) or one JSON list (SQLite):
    the statement is the same for every batch, compiled once, where a ``VALUES`` list of 500
    rows was compiled again for each."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        params = {"keys": list(owed), "recipients": list(owed.values())}
    else:
        params = {"rows": json.dumps(list(owed.items()))}
    return set(db.session.execute(_CLAIMS[dialect], {**params, "now": now, "stale": stale}).scalars())


_CLAIM = """
INSERT INTO mail_receipts (key, recipient, claimed_at) {rows}
ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at
WHERE mail_receipts.sent_at IS NULL AND mail_receipts.error IS NULL
AND (mail_receipts.claimed_at IS NULL OR mail_receipts.claimed_at < :stale)
RETURNING key
"""
_CLAIMS = {
    dialect: text(_CLAIM.format(rows=rows)).bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("stale", type_=UTCDateTime())
    )
    for dialect, rows in (
        (
            "postgresql",
            "SELECT k, r, :now FROM unnest(CAST(:keys AS text[]), CAST(:recipients AS text[])) AS t (k, r)",
        ),
        # "WHERE true": SQLite's parser needs it before ON CONFLICT after a SELECT.
        (
            "sqlite",
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), :now"
            " FROM json_each(:rows) WHERE true",
        ),
    )
}


def _count_unsent(keys: list[str]) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(MailReceipt)
        .where(MailReceipt.key.in_(keys), MailReceipt.sent_at.is_(None), MailReceipt.error.is_(None))
    ).scalar_one()


def _send_claimed(keys: list[str], compose, deadline: float) -> int:
    sent: list[str] = []
    refused: dict[str, str] = {}

    def numbered():
        for key, email in compose(keys):
            email.message_id = receipt_message_id(key)
            yield key, email

    try:
        for key, error in send_each(numbered(), deadline=deadline):
            if error is None:
                sent.append(key)
            else:
                refused[key] = error
    except BaseException:
        # Whatever stopped it (the server, a render, the claim lapsing), what the server took
        # is marked; the rest is released so that the retry sends it without waiting.
        try:
            _mark(sent, refused)
            done = set(sent) | set(refused)
            _release([key for key in keys if key not in done])
            db.session.commit()
        except Exception:  # noqa: BLE001 - the first failure is the one to raise
            log.exception("could not mark a failed batch's emails: its unmarked ones go again")
            db.session.rollback()
        raise
    _mark(sent, refused)
    db.session.commit()
    return len(sent)


def _mark(sent: list[str], refused: dict[str, str]) -> None:
    now = utcnow()
    if sent:
        db.session.execute(update(MailReceipt).where(MailReceipt.key.in_(sent)).values(sent_at=now))
    if refused:
        receipts = MailReceipt.__table__
        db.session.execute(
            update(receipts)
            .where(receipts.c.key == bindparam("k"))
            .values(sent_at=now, error=bindparam("e")),
            [{"k": key, "e": error[:300]} for key, error in refused.items()],
        )


def _release(keys: list[str]) -> None:
    if keys:
        db.session.execute(
            update(MailReceipt)
            .where(MailReceipt.key.in_(keys), MailReceipt.sent_at.is_(None))
            .values(claimed_at=None)
        )


def send_each(
    emails: Iterable[tuple[str, Email]], deadline: float | None = None
) -> Iterator[tuple[str, str | None]]:
    """Send ``(key, email)`` pairs in order over one connection of the configured transport,
    yielding ``(key, None)`` as the server takes each and ``(key, reason)`` when it refuses
    one for good (a 5xx reply: the next ones still go). Any other failure raises: what was
    yielded before it was taken. Past ``deadline`` (``time.monotonic()``) it raises
    :class:`ClaimLapsing` before sending the next email.

    Where the server offers PIPELINING (RFC 2920), each email's ``MAIL``, ``RCPT`` and
    ``DATA`` go in one write, right after the previous email's content and before its reply
    is read: one round trip an email instead of four (see :func:`_pipelined`).

    Inside :func:`one_connection` it sends over that connection (opened if need be) and
    leaves it open for the caller's next emails, dropping it if sending fails.
    """
    sender = current_app.config["MAIL_FROM"]
    url = urlsplit(current_app.config["MAIL_URL"])
    if url.scheme == "file":
        folder = Path(unquote(url.path))
        for key, email in emails:
            _check(deadline)
            data = email.to_bytes(sender)
            _write_bytes(folder, data if data is not None else email.to_message(sender).as_bytes())
            yield key, None
    elif url.scheme in {"smtp", "smtps", "smtp+starttls"}:
        shared = _shared_connection.get()
        if shared is None:
            client = _open_smtp(url)
        else:
            client = shared.client = shared.client or _open_smtp(url)
        try:
            client.ehlo_or_helo_if_needed()
            if client.has_extn("pipelining"):
                # Each email's envelope is written right after the previous content, before
                # its reply: Nagle's algorithm would hold it back until that reply's ACK.
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                yield from _pipelined(client, sender, emails, deadline)
            else:
                for key, email in emails:
                    _check(deadline)
                    yield key, _refusal(client, sender, email)
        except BaseException:
            # Replies may be left unread (or the caller stopped mid-pipeline): the
            # connection cannot carry another email.
            if shared is not None:
                shared.close()
            raise
        finally:
            if shared is None:
                _quit(client)
    else:
        raise RuntimeError(f"MAIL_URL scheme {url.scheme!r} is not file, smtp or smtps")


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ClaimLapsing("the batch's claim is half gone: the retry sends the rest")


def _refusal(client: smtplib.SMTP, sender: str, email: Email, data: bytes | None = None) -> str | None:
    """Send ``email`` and wait for each reply; the reason it was refused for good, or None."""
    data = data if data is not None else email.to_bytes(sender, eight_bit=client.has_extn("8bitmime"))
    if data is None:  # an address that is not ASCII: the email package's message, by SMTPUTF8
        try:
            _deliver(client, email.to_message(sender))
        except PermanentMailError as exc:
            return str(exc)
        return None
    return _exchange(client, _envelope_address(sender), email.to, data)


def _exchange(client: smtplib.SMTP, envelope_from: str, to: str, data: bytes) -> str | None:
    """One message's ``MAIL``, ``RCPT``, ``DATA`` and content, each reply awaited: what
    smtplib's ``sendmail`` does for one ASCII message, without parsing both addresses again
    for each email or copying the message twice. The reason the server refused it for good
    (a 5xx reply; the transaction is reset, the connection goes on), or None once taken;
    raises as ``sendmail`` does otherwise (the caller then drops the connection)."""
    client.send(_mail_from(envelope_from, data, client.has_extn("size")))
    code, text = client.getreply()
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, text, envelope_from)
    client.send(f"RCPT TO:<{to}>\r\n".encode())
    code, text = client.getreply()
    if code not in (250, 251):
        client.rset()
        if code >= 500:
            return f"recipient refused ({code})"
        raise smtplib.SMTPRecipientsRefused({to: (code, text)})
    client.send(b"DATA\r\n")
    code, text = client.getreply()
    if code == 354:
        client.send(_dot_stuffed(data) + b".\r\n")
        code, text = client.getreply()
        if code == 250:
            return None
    if code >= 500:
        client.rset()
        return f"message refused ({code})"
    raise smtplib.SMTPDataError(code, text)


def _mail_from(envelope_from: str, data: bytes, size: bool) -> bytes:
    """The ``MAIL`` command for ``data``: its ``SIZE`` where the server takes it (RFC 1870),
    and ``BODY=8BITMIME`` when it is not ASCII (RFC 6152; only sent so to a server that
    offers it, see :meth:`Email.to_bytes`)."""
    params = f" SIZE={len(data)}" if size else ""
    if not data.isascii():
        params += " BODY=8BITMIME"
    return f"MAIL FROM:<{envelope_from}>{params}\r\n".encode()


def _dot_stuffed(data: bytes) -> bytes:
    """``data`` as SMTP carries it (RFC 5321): a dot doubled at the start of a line, ended by
    a line break. (A replace, not a regular expression: the same bytes in a tenth of the time.)"""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\n.", b"\n..")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@functools.lru_cache(maxsize=8)
def _envelope_address(sender: str) -> str:
    return parseaddr(sender)[1]


def _pipelined(client: smtplib.SMTP, sender: str, emails: Iterable[tuple[str, Email]], deadline) -> Iterator:
    """RFC 2920 over ``client``: an email's envelope (``MAIL``, ``RCPT``, ``DATA``) in one
    write; its content once the server answers ``354``; then, without waiting for that
    content's reply, the next email is built and its envelope written with that content, in
    one write (message content may lead a group); the replies are read in order. One round
    trip and one write an email."""
    envelope_from = parseaddr(sender)[1]
    size = client.has_extn("size")
    eight_bit = client.has_extn("8bitmime")
    pending = iter(emails)

    def take():
        item = next(pending, None)
        if item is None:
            return None
        key, email = item
        return key, email.to, email, email.to_bytes(sender, eight_bit=eight_bit)

    def send_envelope(item, before: bytes = b"") -> bool:
        """Write ``item``'s envelope (after ``before``, the previous email's content); False,
        and nothing written, when it is not to be pipelined."""
        # Only an ASCII envelope is pipelined; an international address goes by
        # send_message, which asks for SMTPUTF8.
        if item is None or item[3] is None or (deadline is not None and time.monotonic() > deadline):
            return False
        envelope = _mail_from(envelope_from, item[3], size) + f"RCPT TO:<{item[1]}>\r\nDATA\r\n".encode()
        client.send(before + envelope)
        return True

    _check(deadline)
    item = take()
    written = send_envelope(item)
    while item is not None:
        key, to, email, data = item
        if not written:
            _check(deadline)
            yield key, _refusal(client, sender, email, data)
            item = take()
            written = send_envelope(item)
            continue
        (mail_code, mail_text), (rcpt_code, rcpt_text), (data_code, data_text) = (
            client.getreply(),
            client.getreply(),
            client.getreply(),
        )
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # A server that takes DATA after refusing the envelope: the message cannot be
            # aborted but by dropping the connection, which the caller does.
            raise smtplib.SMTPResponseException(data_code, b"DATA accepted without a recipient")
        if data_code != 354:
            # Nothing was sent: say why, as smtplib would have.
            if mail_code != 250:
                raise smtplib.SMTPSenderRefused(mail_code, mail_text, envelope_from)
            if rcpt_code not in (250, 251):
                if rcpt_code < 500:
                    raise smtplib.SMTPRecipientsRefused({to: (rcpt_code, rcpt_text)})
                reason = f"recipient refused ({rcpt_code})"
            elif data_code < 500:
                raise smtplib.SMTPDataError(data_code, data_text)
            else:
                reason = f"message refused ({data_code})"
            client.rset()  # the sender is still set: clear it before the next envelope
            item = take()
            written = send_envelope(item)
            yield key, reason
            continue
        # The next email is built first, so that its envelope leaves with this content in
        # one write (one system call an email, not two).
        content = _dot_stuffed(data) + b".\r\n"
        following = take()
        written = send_envelope(following, content)
        if not written:
            client.send(content)
        code, text = client.getreply()
        if code != 250 and code < 500:
            raise smtplib.SMTPDataError(code, text)
        yield key, None if code == 250 else f"message refused ({code})"
        item = following
