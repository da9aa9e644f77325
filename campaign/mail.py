"""Building and sending email. Only jobs send; a service names the email's job in its
transaction and the outbox enqueues it after the commit.

The transport is chosen by ``MAIL_URL``:

- ``file:///path/to/outbox`` writes each message as an ``.eml`` file (the development default);
- ``smtp://user:password@host:port`` sends by SMTP (``smtp+starttls://`` upgrades the
  connection, ``smtps://`` uses TLS from the start).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import smtplib
import ssl
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import MailReceipt, utcnow


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
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    partial = final.with_suffix(".part")
    partial.write_bytes(message.as_bytes())
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
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), key.encode(), hashlib.sha256)
    return f"<{digest.hexdigest()[:32]}@groundswell.localhost>"


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
