"""The bench's SMTP sink counts what it got the same with either engine, and misses nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench.smtp_sink import postfix_sink_path
from bench.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    def __init__(self, engine: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port), "--engine", engine],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = json.loads(self.proc.stdout.readline())
        assert ready == {"ready": True, "port": self.port, "engine": engine}

    def command(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict:
        stats = self.command("stats")
        assert stats.pop("first_at") <= stats.pop("last_at")
        assert stats.pop("without_recipient") == 0  # every message's recipients read
        return stats

    def read(self, command: str, tmp_path: Path):
        path = tmp_path / f"{command}.json"
        assert self.command(f"{command} {path}") == {"ok": True}
        return json.loads(path.read_text())

    def send(self, tag: str, n: int) -> bool:
        """``n`` messages on one connection, each to two recipients; whether PIPELINING was
        offered."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.ehlo()
            for i in range(n):
                message = EmailMessage()
                message["From"] = "no-reply@sink.example"
                message["To"] = "supporter@sink.example"
                message["Subject"] = f"Café {tag} {i}"
                message["Message-ID"] = f"<{tag}.{i}@sink.example>"
                # A line that starts with a dot: stuffed on the wire, one message still.
                message.set_content(f"Hello {tag}.\n.A line with a dot\n" + "x" * 5000 + "\n")
                smtp.send_message(message, to_addrs=[f"R.{tag}.{i % 3}@Sink.example", "all@sink.example"])
            return smtp.has_extn("pipelining")

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0
        self.proc.stdout.close()


def _session(engine: str, tmp_path: Path) -> dict:
    sink = Sink(engine)
    try:
        seen = {"offered at start": sink.send("a", 4)}
        seen["after a"] = sink.stats()
        assert sink.command("pipelining on") == {"ok": True, "pipelining": True}
        seen["offered when on"] = sink.send("b", 2)
        seen["after b"] = sink.stats()
        seen["recipients"] = sink.read("dump", tmp_path)
        seen["messages"] = sorted(sink.read("messages", tmp_path))
        assert sink.command("reset") == {"ok": True}
        seen["after reset"] = sink.command("stats")
        seen["offered after reset"] = sink.send("c", 1)
        seen["after c"] = sink.stats()
        assert sink.command("keep off") == {"ok": True, "keep": False}
        seen["offered when not keeping"] = sink.send("d", 3)
        seen["after d"] = sink.stats()
        assert sink.command("keep on") == {"ok": True, "keep": True}
        assert sink.command("reset") == {"ok": True}
        sink.send("e", 2)
        seen["after e"] = sink.stats()
        seen["messages after e"] = sorted(sink.read("messages", tmp_path))
    finally:
        sink.close()
    return seen


@pytest.fixture(scope="module", autouse=True)
def _postfix_installed():
    postfix_sink_path()  # fails with what to install when Postfix's smtp-sink is missing


def test_both_engines_count_the_same(tmp_path):
    postfix = _session("postfix", tmp_path)
    assert postfix == _session("aiosmtpd", tmp_path)
    assert postfix["offered at start"] is False
    assert postfix["offered when on"] is True
    assert postfix["after a"] == {"messages": 4, "recipients": 4, "duplicates": 4}
    assert postfix["after b"] == {"messages": 6, "recipients": 6, "duplicates": 6}
    assert postfix["recipients"]["all@sink.example"] == 6
    assert postfix["recipients"]["r.a.0@sink.example"] == 2  # lower-cased, as aiosmtpd's
    assert ["r.b.1@sink.example", "<b.1@sink.example>", "=?utf-8?q?Caf=C3=A9?= b 1", 1] in postfix["messages"]
    assert postfix["after reset"] == {
        "messages": 0,
        "recipients": 0,
        "duplicates": 0,
        "first_at": 0.0,
        "last_at": 0.0,
        "without_recipient": 0,
    }
    assert postfix["after c"] == {"messages": 1, "recipients": 2, "duplicates": 0}
    # Not keeping: counted (the 1 before, then 3), but what they held is not known.
    assert postfix["offered when not keeping"] is True
    assert postfix["after d"] == {"messages": 4, "recipients": None, "duplicates": None}
    # Keeping again: read as before, none of the ones not kept among them.
    assert postfix["after e"] == {"messages": 2, "recipients": 3, "duplicates": 1}
    assert {row[1] for row in postfix["messages after e"]} == {"<e.0@sink.example>", "<e.1@sink.example>"}


def test_postfix_sink_counts_concurrent_connections_exactly(tmp_path):
    """Eight connections at once, each message once: every one counted with its own
    Message-ID, none twice, none torn (smtp-sink appends each to one dump file)."""
    sink = Sink("postfix")
    try:
        sink.command("pipelining on")
        threads = [threading.Thread(target=sink.send, args=(f"t{k}", 25)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = sink.stats()
        rows = sink.read("messages", tmp_path)
    finally:
        sink.close()
    assert stats["messages"] == 200
    ids = {message_id for _rcpt, message_id, _subject, _n in rows}
    assert ids == {f"<t{k}.{i}@sink.example>" for k in range(8) for i in range(25)}
    assert all(n == 1 for *_, n in rows)
    assert len(rows) == 400  # two recipients a message


def test_a_message_whose_recipients_cannot_be_read_is_counted_and_shown():
    """A record of the dump without its envelope's recipients (a message the sink took, read
    wrong) is not silently a missing recipient: it is counted apart, and its start kept."""
    from bench.smtp_sink import Counts

    counts = Counts()
    counts.add(["A@Sink.example"], "<1@sink.example>", "one", 1.0)
    counts.unaddressed(b"X-Client-Addr: 127.0.0.1\nSubject: two\n")
    counts.add([], "<2@sink.example>", "two", 2.0)
    stats = counts.stats()
    assert (stats["messages"], stats["recipients"], stats["without_recipient"]) == (2, 1, 1)
    assert stats["without_recipient_sample"].startswith("X-Client-Addr: 127.0.0.1")
    counts.reset()
    assert counts.stats()["without_recipient"] == 0 and "without_recipient_sample" not in counts.stats()


def test_a_record_whose_headers_are_not_all_written_is_read_once_they_are(tmp_path):
    """smtp-sink's count can be ahead of its dump file: a full run once read the first bytes
    of a record (four of smtp-sink's header lines, cut in the middle of a line) as a whole
    message, counted it without its recipient and never read the rest. The last record is
    now taken only once its header block is whole."""
    from bench.smtp_sink import RECORD, Counts, PostfixSink

    def record(n: int) -> bytes:
        return (
            RECORD
            + (
                f"X-Client-Addr: 127.0.0.1\nX-Mail-Args: <no-reply@sink.example>\n"
                f"X-Rcpt-Args: <r{n}@sink.example>\nMessage-ID: <{n}@sink.example>\nSubject: s{n}\n\n"
                f"body {n}\n"
            ).encode()
        )

    sink = PostfixSink.__new__(PostfixSink)  # its reading alone, without a server
    sink.counts, sink.dump, sink.keep = Counts(), tmp_path / "messages.dump", True
    sink.offset = sink.parsed = sink.ended_before = 0
    whole, cut = record(1), record(2)
    sink.dump.write_bytes(whole + cut[:60])  # the count says both ended; the second is cut
    sink.ended = 2
    sink.catch_up()
    assert sink.counts.stats()["messages"] == 1 and sink.counts.recipients() == {"r1@sink.example": 1}
    with sink.dump.open("ab") as dump:
        dump.write(cut[60:])
    sink.catch_up()
    stats = sink.counts.stats()
    assert (stats["messages"], stats["without_recipient"]) == (2, 0)
    assert sink.counts.recipients() == {"r1@sink.example": 1, "r2@sink.example": 1}


def test_a_sink_stopped_as_the_stack_stops_it_leaves_no_dump_behind():
    """The stack stops its sink with SIGTERM to its process group (smtp-sink with it): the
    dump folder, gigabytes after a full run, is removed all the same."""
    postfix_sink_path()  # installed, or a clear message
    # A temporary folder others may enter, as the stack's is: smtp-sink writes as nobody.
    root = Path(tempfile.mkdtemp(prefix="sink-test-"))
    root.chmod(0o755)
    try:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(port)],
            cwd=ROOT,
            env={**os.environ, "TMPDIR": str(root)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as bench.stack.Stack.spawn makes it
        )
        assert json.loads(proc.stdout.readline())["ready"]
        [folder] = root.glob("smtp-sink-*")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "hi"
        message.set_content("hello")
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(message)
        assert (folder / "messages.dump").stat().st_size > 0
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        proc.stdin.close()
        proc.stdout.close()
        assert not folder.exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
