"""A local SMTP sink that counts messages by recipient: ``python -m bench.smtp_sink PORT [HOST]``.

Two engines answer SMTP, spoken to the same way:

- ``postfix`` (the default): Postfix's ``smtp-sink``, a test server written in C for exactly
  this (Debian's package ``postfix``; ``make bench`` installs it). It appends every message to a
  dump file and prints a running count; this process reads both. It takes about 0.04 to
  0.1 ms of CPU a message where aiosmtpd in Python takes 0.4 to 0.8 (``python -m
  bench.sink_ceiling --engine …``). The sink stands for a mail relay on another host, so
  on the bench's two shared cores the less it takes the truer the figures of the app beside it.
- ``aiosmtpd`` (``--engine aiosmtpd``): an aiosmtpd Controller in this process, as the test
  suite's own SMTP server is.

Commands on standard input, one per line:

- ``stats``: prints one JSON line ``{"messages", "recipients", "duplicates", "first_at",
  "last_at", "without_recipient"}`` (``time.time()`` of the first and last message, 0 before
  any; the messages counted whose recipients could not be read, with the start of the first
  of them as ``"without_recipient_sample"``);
- ``dump PATH``: writes ``{recipient: count}`` as JSON to PATH, then prints ``{"ok": true}``;
- ``messages PATH``: writes ``[[recipient, message_id, subject, times received], ...]`` as JSON
  to PATH, then prints ``{"ok": true}`` (a message sent again keeps its Message-ID);
- ``reset``: forgets everything counted so far;
- ``pipelining on`` / ``pipelining off``: whether its EHLO reply offers PIPELINING (RFC 2920;
  off at start). aiosmtpd reads each command in order from the stream, which is what a
  pipelining server must do, but does not say so itself; Postfix's sink says so unless told
  not to (``-p``), so it is started again on the same port with the other shape.
- ``keep on`` / ``keep off``: whether it keeps each message to read its recipients,
  Message-ID and subject (on at start). Off, it only counts messages (``stats`` then gives
  ``recipients`` and ``duplicates`` as null until the next ``reset``): Postfix's sink is
  started again without its dump file, which was two thirds of its CPU a message (0.068 →
  0.025 ms, one process sending 10,000 pipelined messages of 4 KB). A scenario that keeps
  nothing checks for duplicates against the receipts its sender recorded.

End of input stops it. It keeps no message, only counts (and each message's id and subject), so a
fan-out of 100,000 emails costs a few megabytes here (Postfix's dump file, in a temporary folder
removed at the end, holds the messages: about 4 KB each).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email.parser import BytesHeaderParser, HeaderParser
from pathlib import Path


class Counts:
    """What the sink got: messages, by recipient, by (recipient, Message-ID, subject)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_recipient: Counter[str] = Counter()
        self.by_message: Counter[tuple[str, str, str]] = Counter()
        self.messages = 0
        self.unread = 0  # messages counted without being kept (``keep off``) since the reset
        self.first_at = 0.0
        self.last_at = 0.0
        # A message counted whole whose recipients could not be read: its recipient would be
        # reported missing though the message arrived. Counted, and the first one kept.
        self.without_recipient = 0
        self.without_recipient_sample = ""

    def add(self, recipients: list[str], message_id: str, subject: str, at: float | None) -> None:
        """One message; ``at`` None when the engine timed it itself (see :meth:`timed`)."""
        with self.lock:
            self.messages += 1
            if not recipients:
                self.without_recipient += 1
            for rcpt in recipients:
                self.by_recipient[rcpt.lower()] += 1
                self.by_message[rcpt.lower(), message_id, subject] += 1
            if at is not None:
                self.timed(at)

    def add_unread(self, n: int, at: float | None) -> None:
        """``n`` messages counted, not kept (``keep off``)."""
        with self.lock:
            self.messages += n
            self.unread += n
            if at is not None:
                self.timed(at)

    def timed(self, at: float) -> None:
        self.last_at = at
        if not self.first_at:
            self.first_at = at

    def unaddressed(self, record: bytes) -> None:
        """Keep the start of the first message whose recipients could not be read."""
        with self.lock:
            if not self.without_recipient_sample:
                self.without_recipient_sample = record[:2000].decode("utf-8", "replace")

    def stats(self) -> dict:
        with self.lock:
            read = not self.unread
            stats = {
                "messages": self.messages,
                "recipients": len(self.by_recipient) if read else None,
                "duplicates": sum(n - 1 for n in self.by_recipient.values() if n > 1) if read else None,
                "first_at": self.first_at,
                "last_at": self.last_at,
                "without_recipient": self.without_recipient,
            }
            if self.without_recipient_sample:
                stats["without_recipient_sample"] = self.without_recipient_sample
            return stats

    def recipients(self) -> dict[str, int]:
        with self.lock:
            return dict(self.by_recipient)

    def rows(self) -> list[list]:
        with self.lock:
            return [[*key, n] for key, n in self.by_message.items()]

    def reset(self) -> None:
        with self.lock:
            self.by_recipient.clear()
            self.by_message.clear()
            self.messages = 0
            self.unread = 0
            self.first_at = 0.0
            self.last_at = 0.0
            self.without_recipient = 0
            self.without_recipient_sample = ""


class AiosmtpdSink:
    """aiosmtpd in this process: a handler that counts each message as its DATA ends."""

    def __init__(self, host: str, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.counts = Counts()
        self.pipelining = False
        self.keep = True
        self.controller = Controller(self, hostname=host, port=port, ready_timeout=10)
        self.controller.start()

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:
        if not self.keep:
            self.counts.add_unread(1, time.time())
            return "250 Message accepted"
        headers = HeaderParser().parsestr(envelope.content.decode("utf-8", "replace"), headersonly=True)
        message_id, subject = headers.get("Message-ID", ""), headers.get("Subject", "")
        self.counts.add(envelope.rcpt_tos, message_id, subject, time.time())
        return "250 Message accepted"

    def set_pipelining(self, on: bool) -> None:
        self.pipelining = on

    def set_keep(self, on: bool) -> None:
        self.keep = on

    def catch_up(self) -> None:
        """Every message is counted as it arrives."""

    def close(self) -> None:
        self.controller.stop()


# Written by smtp-sink before each message in its dump file (-S; it reads C escapes): a line
# no message can hold, so the file splits into messages without reading them.
RECORD = b"\001groundswell-sink-record\n"
_MESG = re.compile(rb"mesg=(\d+)")
#: The longest a question waits for smtp-sink's count to reach the messages in its dump.
WAIT_FOR_COUNT = 0.5


def _headers_whole(record: bytes) -> bool:
    """Whether a record of the dump holds its whole header block (smtp-sink's lines and the
    message's, up to the blank line before the body)."""
    return b"\n\n" in record or b"\n\r\n" in record


def postfix_sink_path() -> str:
    """Where Postfix's smtp-sink is (it lives in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise SystemExit(
            "The bench's SMTP sink is Postfix's smtp-sink, which is not installed. Install it "
            "(Debian/Ubuntu: sudo apt-get install postfix; `make bench` does it when run as "
            "root), or start the sink with --engine aiosmtpd."
        )
    return found


class PostfixSink:
    """Postfix's smtp-sink in a process of its own, appending each message to a dump file.

    It prints ``sess=… quit=… mesg=N`` each time a message ends; a thread here reads that
    and times the first and last message. The dump is read when asked (:meth:`catch_up`):
    only the messages the count says are whole: each one's envelope recipients (``X-Rcpt-Args``,
    smtp-sink's own header) and its Message-ID and Subject, parsed as aiosmtpd's handler does.
    """

    def __init__(self, host: str, port: int) -> None:
        self.exe = postfix_sink_path()
        self.host, self.port = host, port
        self.counts = Counts()
        self.dir = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
        self.user: list[str] = []
        if os.geteuid() == 0:
            # smtp-sink will not run as root: it drops to nobody, who must write the dump.
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.user = ["-u", "nobody"]
        self.dump = self.dir / "messages.dump"
        self.offset = 0  # how far into the dump the counts have read
        self.parsed = 0  # messages counted from the dump, over every start
        self.ended = 0  # messages smtp-sink said were whole, over every start
        self.ended_before = 0  # …by the processes before this one
        self.pipelining = False
        self.keep = True  # the dump written (``keep off``: only counted)
        self.proc: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        argv = [
            self.exe,
            *self.user,
            "-c",  # the running count on stdout
            "-a",  # no AUTH offered: nothing to log in to
            "-C",  # no XCLIENT …
            "-F",  # … nor XFORWARD: a relay's extensions that the bench does not use
            *([] if self.pipelining else ["-p"]),
            *(
                ["-S", RECORD.decode().replace("\001", "\\001").replace("\n", "\\n"), "-D", str(self.dump)]
                if self.keep
                else []
            ),
            f"{self.host}:{self.port}",
            "1024",  # listen backlog: the app opens a connection per email in bursts
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read_counts, args=(self.proc,), daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 10
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                raise SystemExit(f"Postfix's smtp-sink did not start on {self.host}:{self.port}: {err}")
            time.sleep(0.02)

    def _listening(self) -> bool:
        import socket

        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"QUIT\r\n")
                return s.recv(3) == b"220"
        except OSError:
            return False

    def _read_counts(self, proc: subprocess.Popen) -> None:
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 4096):
            found = _MESG.findall(chunk)
            if found:
                at = time.time()
                with self.counts.lock:
                    ended = self.ended_before + int(found[-1])
                    if ended > self.ended:
                        self.ended = ended
                        self.counts.timed(at)

    def catch_up(self) -> None:
        """Count the whole messages the dump has that are not counted yet (with ``keep
        off``, the messages smtp-sink's count says ended since)."""
        if not self.keep:
            ended = self._settled() - self.parsed
            self.counts.add_unread(ended, None)
            self.parsed += ended
            return
        if not self.dump.exists():
            return
        with open(self.dump, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        starts = [m.start() for m in re.finditer(re.escape(RECORD), data)]
        take = self._whole(len(starts))
        if take == len(starts) and take and not _headers_whole(data[starts[-1] :]):
            # smtp-sink's count can be ahead of its dump: a message's record may reach the
            # file in more than one write, and one run read the first lines of a record (cut
            # in the middle of one) as a message without recipients, and missed its
            # recipient. The last record is taken once its header block is whole; the rest
            # of it, the body, is not read.
            take -= 1
        if take <= 0:
            return
        parser = BytesHeaderParser()
        for i in range(take):
            end = starts[i + 1] if i + 1 < len(starts) else len(data)
            # smtp-sink's own lines (X-Client-Addr, X-Rcpt-Args, its Received) are headers too:
            # the record's header block is theirs and the message's, read as one.
            record = data[starts[i] + len(RECORD) : end]
            headers = parser.parsebytes(record, headersonly=True)
            rcpts = [r.strip().partition(" ")[0].strip("<>") for r in headers.get_all("X-Rcpt-Args", [])]
            if not rcpts:
                self.counts.unaddressed(record)
            self.counts.add(rcpts, headers.get("Message-ID", ""), headers.get("Subject", ""), None)
        self.parsed += take
        self.offset += starts[take] if take < len(starts) else len(data)

    def _settled(self) -> int:
        """smtp-sink's count once it stays the same for a few milliseconds (a message the
        server has already answered may not be heard of yet), or after WAIT_FOR_COUNT."""
        deadline = time.monotonic() + WAIT_FOR_COUNT
        with self.counts.lock:
            ended = self.ended
        while time.monotonic() < deadline:
            time.sleep(0.01)
            with self.counts.lock:
                if self.ended == ended:
                    return ended
                ended = self.ended
        return ended

    def _whole(self, records: int) -> int:
        """How many of the dump's first ``records`` new records are whole. smtp-sink's count
        says so, and a thread here hears it: a message the server has already answered may
        not be heard of yet, so the count is given a moment to reach the records (a record
        still arriving keeps it short, and is left for the next call)."""
        deadline = time.monotonic() + WAIT_FOR_COUNT
        while True:
            with self.counts.lock:
                whole = self.ended - self.parsed
            if whole >= records or time.monotonic() > deadline:
                return min(whole, records)
            time.sleep(0.002)

    def set_pipelining(self, on: bool) -> None:
        self._started_again("pipelining", on)

    def set_keep(self, on: bool) -> None:
        self._started_again("keep", on)

    def _started_again(self, shape: str, on: bool) -> None:
        """smtp-sink takes its shape from its arguments: started again on the same port when
        ``shape`` changes (what the dump holds is counted first)."""
        if on == getattr(self, shape):
            return
        self._stop()
        setattr(self, shape, on)
        self._start()

    def _stop(self, count: bool = True) -> None:
        """Stop smtp-sink; ``count``: read what its dump holds first (not when closing: a
        run's dump reaches gigabytes, and the caller waits a few seconds, then kills)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        with self.counts.lock:
            self.ended_before = self.ended
        if count:
            self.catch_up()

    def close(self) -> None:
        try:
            self._stop(count=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_sink", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("host", nargs="?", default="127.0.0.1", help="a cluster's mail host")
    parser.add_argument("--engine", choices=("postfix", "aiosmtpd"), default="postfix")
    args = parser.parse_args(argv)
    # The bench stops its sink with SIGTERM (bench.stack.Proc.stop): raised here, so that the
    # sink closes and removes its dump folder. Killed outright, a run's dump (2.7 GB) was
    # left behind in the temporary folder, run after run, until the disk was full.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sink = (PostfixSink if args.engine == "postfix" else AiosmtpdSink)(args.host, args.port)
    counts = sink.counts
    print(json.dumps({"ready": True, "port": args.port, "engine": args.engine}), flush=True)
    try:
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command in ("stats", "dump", "messages", "reset"):
                sink.catch_up()
            if command == "stats":
                print(json.dumps(counts.stats()), flush=True)
            elif command == "dump":
                Path(arg).write_text(json.dumps(counts.recipients()))
                print(json.dumps({"ok": True}), flush=True)
            elif command == "messages":
                Path(arg).write_text(json.dumps(counts.rows()))
                print(json.dumps({"ok": True}), flush=True)
            elif command == "pipelining":
                sink.set_pipelining(arg == "on")
                print(json.dumps({"ok": True, "pipelining": arg == "on"}), flush=True)
            elif command == "keep":
                sink.set_keep(arg == "on")
                print(json.dumps({"ok": True, "keep": arg == "on"}), flush=True)
            elif command == "reset":
                counts.reset()
                print(json.dumps({"ok": True}), flush=True)
            elif command:
                print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    finally:
        sink.close()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
