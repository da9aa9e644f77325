"""Bare ceilings of the two worker-side scenarios, run as plain processes.

``python -m bench.bare_jobs delivery CAMPAIGN_ID OUT_DIR``
    The delivery's I/O with nothing else: stream the round's supports (the same columns and
    filter, in id order) from PostgreSQL through a server-side cursor into a CSV file,
    hashing it. Prints ``{"rows", "seconds"}`` as JSON.

``python -m bench.bare_jobs fanout IDS_FILE SMTP_PORT PART PARTS [reuse]``
    The fan-out's I/O with nothing else, for the PART-th of PARTS slices of the support ids in
    IDS_FILE (one a line): per email, one INSERT of a receipt, one SMTP connection and message,
    one COMMIT (as ``send_once`` does), with a message of the app's size built without
    templates. With ``reuse``, one SMTP connection carries all of a process's messages (still a
    receipt and a commit per email). Prints ``{"sent", "seconds"}`` as JSON.

``python -m bench.bare_jobs batches IDS_FILE SMTP_PORT PART PARTS [TAG]``
    The batch design's I/O with nothing else (issue 17): per batch of 500, one INSERT that
    claims the receipts, a commit, the messages over one SMTP connection (pipelined where
    the sink offers it), one UPDATE that marks them sent, a commit. TAG tells the receipts of
    one run from another's.

``python -m bench.bare_jobs dispatch SMTP_PORT SIZE``
    The confirmation dispatcher's I/O with nothing else, for the bare end to end: until
    SIGTERM, claim up to 200 owed confirmation emails by their rows' locks (``SELECT … FOR
    UPDATE OF confirmations_owed SKIP LOCKED``, the app's claim on PostgreSQL), send them over
    one SMTP connection (pipelined where the sink offers it), then in the same transaction
    insert their receipts and delete their rows; after a claim of fewer than 200 (none
    included) wait 0.2 s for the next batch to gather, as the app's dispatcher does. Each
    message is SIZE bytes, the size of the app's confirmation email. Prints ``{"ready":
    true}`` once connected (SIGTERM is heard from then on), then at the end ``{"sent",
    "seconds", "cpu_seconds"}``.

All read ``DATABASE_URL`` from the environment, like the app.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import smtplib
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg


def delivery(campaign_id: int, out_dir: Path) -> dict:
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bare-signatures.csv"
    rows = 0
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        with conn.cursor(name="bare_delivery") as cur, path.open("w", newline="") as fh:
            cur.itersize = 5000
            cur.execute(
                "SELECT name, is_public, country, confirmed_at FROM supports"
                " WHERE campaign_id = %s AND confirmed_at IS NOT NULL AND withdrawn_at IS NULL"
                " ORDER BY id",
                [campaign_id],
            )
            writer = csv.writer(fh)
            writer.writerow(["name", "country", "date"])
            for name, is_public, country, confirmed_at in cur:
                writer.writerow(
                    [name if is_public else "Name withheld", country, confirmed_at.date().isoformat()]
                )
                rows += 1
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 3), "sha256": digest.hexdigest()}


def _message(support_id: int, name: str, email: str) -> EmailMessage:
    link = f"http://127.0.0.1/supports/unsubscribe/bare-{support_id}-" + "t" * 90
    message = EmailMessage()
    message["From"] = "Groundswell <no-reply@groundswell.localhost>"
    message["To"] = email
    message["Subject"] = "We reached the goal: Northwind Coffee: pay farmers a living income"
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = (
        f'Hello {name},\n\n"Northwind Coffee: pay farmers a living income" has reached its '
        "goal of 1,000,000 signatures, and yours is one of them. Thank you.\n\n"
        f"See what happens next: http://127.0.0.1/petitions/bench-big\n\nStop these emails: {link}\n"
    )
    message.set_content(text)
    message.add_alternative(
        "<html><body>"
        + "<p>"
        + text.replace("\n\n", "</p><p>")
        + "</p>"
        + '<div style="font-family:sans-serif;color:#333">'
        + "&nbsp;" * 200
        + "</div></body></html>",
        subtype="html",
    )
    return message


def fanout(ids_file: Path, port: int, part: int, parts: int, reuse: bool = False) -> dict:
    started = time.perf_counter()
    sent = 0
    ids = [int(line) for line in ids_file.read_text().split()][part::parts]
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        recipients = conn.execute(
            "SELECT id, name, email FROM supports WHERE id = ANY(%s) ORDER BY id", [ids]
        ).fetchall()
        conn.commit()
        shared = smtplib.SMTP("127.0.0.1", port, timeout=30) if reuse else None
        for support_id, name, email in recipients:
            conn.execute(
                "INSERT INTO mail_receipts (key, recipient, sent_at) VALUES (%s, %s, now())",
                [f"bare-{'reuse' if reuse else 'goal'}:{support_id}", email],
            )
            if shared is not None:
                shared.send_message(_message(support_id, name, email))
            else:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.send_message(_message(support_id, name, email))
            conn.commit()
            sent += 1
        if shared is not None:
            shared.quit()
    return {"sent": sent, "seconds": round(time.perf_counter() - started, 3)}


def _bytes(support_id: int, name: str, email: str) -> bytes:
    """A message of the app's size and shape as SMTP bytes, formatted directly (as the app's
    batches build theirs)."""
    link = f"http://127.0.0.1/supports/unsubscribe/bare-{support_id}-" + "t" * 90
    text = (
        f'Hello {name},\r\n\r\n"Northwind Coffee: pay farmers a living income" has reached its '
        "goal of 1,000,000 signatures, and yours is one of them. Thank you.\r\n\r\n"
        f"See what happens next: http://127.0.0.1/petitions/bench-big\r\n\r\nStop these emails: {link}\r\n"
    )
    paragraphs = text.replace("\r\n\r\n", "</p><p>")
    filler = ("&nbsp;" * 20 + "\r\n") * 10  # lines of at most 998 characters, as SMTP wants
    html = f"<html><body><p>{paragraphs}</p>\r\n{filler}</body></html>\r\n"
    boundary = f"=_bare{support_id}"
    return (
        "From: Groundswell <no-reply@groundswell.localhost>\r\n"
        f"To: {email}\r\n"
        "Subject: We reached the goal: Northwind Coffee: pay farmers a living income\r\n"
        f"Message-ID: <bare-{support_id}@groundswell.localhost>\r\n"
        f"List-Unsubscribe: <{link}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f'--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n{text}\r\n'
        f'--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n{html}\r\n--{boundary}--\r\n'
    ).encode()


def batches(ids_file: Path, port: int, part: int, parts: int, tag: str = "", size: int = 500) -> dict:
    """The batch design's I/O with nothing else: per batch of ``size``, one INSERT claiming its
    receipts (RETURNING), a commit, every message over one SMTP connection (pipelined when the
    sink offers it), one UPDATE marking them sent, a commit."""
    started = time.perf_counter()
    sent = 0
    ids = [int(line) for line in ids_file.read_text().split()][part::parts]
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.ehlo()
        pipelined = smtp.has_extn("pipelining")
        for i in range(0, len(ids), size):
            recipients = conn.execute(
                "SELECT id, name, email FROM supports WHERE id = ANY(%s) ORDER BY id", [ids[i : i + size]]
            ).fetchall()
            keys = [f"bare-batch{tag}:{support_id}" for support_id, _, _ in recipients]
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO mail_receipts (key, recipient, claimed_at)"
                    " SELECT k, r, now() FROM unnest(%s::text[], %s::text[]) AS t (k, r)"
                    " ON CONFLICT (key) DO NOTHING RETURNING key",
                    [keys, [email for _, _, email in recipients]],
                )
                claimed = {row[0] for row in cur.fetchall()}
            conn.commit()
            messages = [
                (email, _bytes(support_id, name, email))
                for (support_id, name, email), key in zip(recipients, keys, strict=True)
                if key in claimed
            ]
            if pipelined:
                _pipelined(smtp, messages)
            else:
                for email, data in messages:
                    smtp.sendmail("no-reply@groundswell.localhost", [email], data)
            conn.execute("UPDATE mail_receipts SET sent_at = now() WHERE key = ANY(%s)", [sorted(claimed)])
            conn.commit()
            sent += len(messages)
        smtp.quit()
    return {"sent": sent, "seconds": round(time.perf_counter() - started, 3), "pipelined": pipelined}


#: The app's claim on PostgreSQL (campaign.jobs.supports.claim_owed_confirmations): the rows
#: of ``confirmations_owed`` locked, not written, in the transaction that then records the
#: receipts and deletes them.
_CLAIM = (
    "SELECT id, name, email, confirmation_sends FROM supports WHERE id = ANY(ARRAY(SELECT support_id"
    " FROM confirmations_owed ORDER BY support_id LIMIT 200 FOR UPDATE SKIP LOCKED)) ORDER BY id"
)


def dispatch(port: int, size: int) -> dict:
    """The confirmation dispatcher's I/O with nothing else, until SIGTERM (see the module)."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    started, cpu = time.perf_counter(), time.process_time()
    sent = 0
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.ehlo()
        pipelined = smtp.has_extn("pipelining")
        print(json.dumps({"ready": True}), flush=True)
        while not stopping:
            rows = conn.execute(_CLAIM).fetchall()
            if not rows:
                conn.commit()
                time.sleep(0.2)
                continue
            messages = [
                (email, _padded(_bytes(support_id, name, email), size)) for support_id, name, email, _ in rows
            ]
            if pipelined:
                _pipelined(smtp, messages)
            else:
                for email, data in messages:
                    smtp.sendmail("no-reply@groundswell.localhost", [email], data)
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO mail_receipts (key, recipient, sent_at) SELECT k, r, now()"
                    " FROM unnest(%s::text[], %s::text[]) AS t (k, r) ON CONFLICT (key) DO NOTHING",
                    [[f"bare-confirm:{row[0]}:{row[3]}" for row in rows], [row[2] for row in rows]],
                )
                cur.execute(
                    "DELETE FROM confirmations_owed WHERE support_id = ANY(%s)", [[row[0] for row in rows]]
                )
            conn.commit()
            sent += len(rows)
            if len(rows) < 200:
                time.sleep(0.2)  # a batch that was not full: the next gathers, as the app's does
        smtp.quit()
    return {
        "sent": sent,
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "pipelined": pipelined,
    }


def _padded(message: bytes, size: int) -> bytes:
    """``message`` with an HTML comment of short lines before its end, to ``size`` bytes."""
    missing = size - len(message)
    if missing <= 0:
        return message
    head, _, tail = message.rpartition(b"</body>")
    line = b"<!-- " + b"x" * 70 + b" -->\r\n"
    return head + line * (missing // len(line) + 1) + b"</body>" + tail


def _pipelined(smtp: smtplib.SMTP, messages: list[tuple[str, bytes]]) -> None:
    def envelope(email: str) -> bytes:
        return f"MAIL FROM:<no-reply@groundswell.localhost>\r\nRCPT TO:<{email}>\r\nDATA\r\n".encode()

    if not messages:
        return
    smtp.send(envelope(messages[0][0]))
    for i, (_email, data) in enumerate(messages):
        codes = [smtp.getreply()[0] for _ in range(3)]
        if codes != [250, 250, 354]:
            raise RuntimeError(f"the sink answered {codes}")
        following = envelope(messages[i + 1][0]) if i + 1 < len(messages) else b""
        smtp.send(re.sub(rb"(?m)^\.", b"..", data) + b".\r\n" + following)
        if smtp.getreply()[0] != 250:
            raise RuntimeError("the sink refused a message")


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "delivery":
        result = delivery(int(args[0]), Path(args[1]))
    elif command == "batches":
        result = batches(Path(args[0]), int(args[1]), int(args[2]), int(args[3]), *args[4:5])
    elif command == "dispatch":
        result = dispatch(int(args[0]), int(args[1]))
    elif command == "fanout":
        result = fanout(Path(args[0]), int(args[1]), int(args[2]), int(args[3]), reuse=args[4:5] == ["reuse"])
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
