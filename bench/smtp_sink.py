"""A local SMTP sink that counts messages by recipient: ``python -m bench.smtp_sink PORT``.

Runs an aiosmtpd Controller and answers commands on standard input, one per line:

- ``stats``: prints one JSON line ``{"messages", "recipients", "duplicates", "first_at",
  "last_at"}`` (``time.time()`` of the first and last message, 0 before any);
- ``dump PATH``: writes ``{recipient: count}`` as JSON to PATH, then prints ``{"ok": true}``;
- ``messages PATH``: writes ``[[recipient, message_id, subject, times received], ...]`` as JSON
  to PATH, then prints ``{"ok": true}`` (a message sent again keeps its Message-ID);
- ``reset``: forgets everything counted so far;
- ``pipelining on`` / ``pipelining off``: whether its EHLO reply offers PIPELINING (RFC 2920;
  off at start, as aiosmtpd has it). aiosmtpd reads each command in order from the stream,
  which is what a pipelining server must do, but does not say so itself; a relay such as
  Postfix does.

End of input stops it. It keeps no message, only counts (and each message's id and subject), so a
fan-out of 100,000 emails costs a few megabytes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from email.parser import HeaderParser

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_recipient: Counter[str] = Counter()
        self.by_message: Counter[tuple[str, str, str]] = Counter()
        self.messages = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.pipelining = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:
        headers = HeaderParser().parsestr(envelope.content.decode("utf-8", "replace"), headersonly=True)
        message_id, subject = headers.get("Message-ID", ""), headers.get("Subject", "")
        with self.lock:
            self.messages += 1
            for rcpt in envelope.rcpt_tos:
                self.by_recipient[rcpt.lower()] += 1
                self.by_message[rcpt.lower(), message_id, subject] += 1
            self.last_at = time.time()
            if not self.first_at:
                self.first_at = self.last_at
        return "250 Message accepted"

    def stats(self) -> dict:
        with self.lock:
            return {
                "messages": self.messages,
                "recipients": len(self.by_recipient),
                "duplicates": sum(n - 1 for n in self.by_recipient.values() if n > 1),
                "first_at": self.first_at,
                "last_at": self.last_at,
            }

    def reset(self) -> None:
        with self.lock:
            self.by_recipient.clear()
            self.by_message.clear()
            self.messages = 0
            self.first_at = 0.0
            self.last_at = 0.0


def main() -> None:
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"  # a cluster's mail host
    handler = CountingHandler()
    # The app opens one connection per email: keep the listen backlog deep for bursts.
    controller = Controller(handler, hostname=host, port=port, ready_timeout=10)
    controller.start()
    print(json.dumps({"ready": True, "port": port}), flush=True)
    try:
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "stats":
                print(json.dumps(handler.stats()), flush=True)
            elif command == "dump":
                with handler.lock:
                    data = dict(handler.by_recipient)
                with open(arg, "w") as fh:
                    json.dump(data, fh)
                print(json.dumps({"ok": True}), flush=True)
            elif command == "messages":
                with handler.lock:
                    rows = [[*key, n] for key, n in handler.by_message.items()]
                with open(arg, "w") as fh:
                    json.dump(rows, fh)
                print(json.dumps({"ok": True}), flush=True)
            elif command == "pipelining":
                handler.pipelining = arg == "on"
                print(json.dumps({"ok": True, "pipelining": handler.pipelining}), flush=True)
            elif command == "reset":
                handler.reset()
                print(json.dumps({"ok": True}), flush=True)
            elif command:
                print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
