"""The SMTP sink's own ceiling: how many messages a second it takes when nothing else limits it.

    python -m bench.sink_ceiling                  # starts its own sink; 1, 2 and 4 senders
    python -m bench.sink_ceiling --seconds 3 --senders 1,2,4,8

The fan-out's target is 1,000 emails a second "or the sink's ceiling if that is lower": this
measures that ceiling. Each sender is a process of its own holding one SMTP connection (as a
fan-out batch does) and sending the same realistic message (a goal notice: multipart text and
HTML, a List-Unsubscribe header, about 3 KB) to a new recipient each time, as fast as the sink
answers, for a fixed time. Reported per number of senders: messages a second (counted by the
sink), the share of a core the sink and the senders used, and the sink's CPU per message
(which holds on a shared machine where rates do not) with the rate one core gives at that
cost. The sink is one process answering every connection in one loop (Postfix's smtp-sink,
or aiosmtpd with ``--engine aiosmtpd``), so its ceiling is about one core. Without
``--pipelining`` it does not offer SMTP pipelining, so each message costs the four round trips
of MAIL, RCPT, DATA and the message. With it the sink offers it (``pipelining on``) and
the senders pipeline as the app's fan-out batches then do: one round trip a message.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import psutil

from bench.stack import free_port


def notice() -> bytes:
    """A message the size and shape of a milestone notice."""
    message = EmailMessage()
    message["From"] = "Groundswell <no-reply@bench.example>"
    message["To"] = "supporter@bench.example"
    message["Subject"] = "Northwind Coffee: pay farmers a living income reached its goal"
    message["List-Unsubscribe"] = "<https://bench.example/unsubscribe/" + "x" * 120 + ">"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = "The petition you signed reached its goal of 10,000 signatures.\n" * 20
    message.set_content(text)
    message.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    return message.as_bytes(policy=SMTP)


def _send(port: int, sender: int, seconds: float, ready, sent, cpu, pipelined: bool = False) -> None:
    body = notice()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        if pipelined and not smtp.has_extn("pipelining"):
            raise RuntimeError("the sink does not offer PIPELINING")
        ready.wait()  # every sender connected: the clock starts for all at once
        cpu_before = time.process_time()
        deadline = time.time() + seconds
        n = 0
        if pipelined:
            n = _pipelined(smtp, sender, body, deadline)
        else:
            while time.time() < deadline:
                smtp.sendmail("no-reply@bench.example", [f"s{sender}.{n}@bench.example"], body)
                n += 1
        cpu.value = time.process_time() - cpu_before
    sent.value = n


def _pipelined(smtp: smtplib.SMTP, sender: int, body: bytes, deadline: float) -> int:
    """RFC 2920 as the app's batches use it: each message's envelope in one write, its content
    and the next envelope in the next, the replies read in order (one round trip a message)."""
    content = re.sub(rb"(?m)^\.", b"..", body) + b".\r\n"

    def envelope(n: int) -> bytes:
        rcpt = f"s{sender}.{n}@bench.example"
        return f"MAIL FROM:<no-reply@bench.example>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()

    smtp.send(envelope(0))
    n = 0
    while True:
        codes = [smtp.getreply()[0] for _ in range(3)]
        if codes != [250, 250, 354]:
            raise RuntimeError(f"the sink answered {codes}")
        more = time.time() < deadline
        smtp.send(content + (envelope(n + 1) if more else b""))
        if smtp.getreply()[0] != 250:
            raise RuntimeError("the sink refused a message")
        n += 1
        if not more:
            return n


def measure(
    port: int, sink_pid: int | None, senders: int, seconds: float, stats=None, pipelined: bool = False
) -> dict:
    """``senders`` processes, one connection each, sending for ``seconds``; the sink's rate.

    ``stats()`` returns the sink's own count (the bench's stdin command); without it the
    senders' count is used. ``pipelined`` senders use PIPELINING, which the sink must offer.
    """
    ctx = multiprocessing.get_context("spawn")
    counters = [ctx.Value("q", 0) for _ in range(senders)]
    cpus = [ctx.Value("d", 0.0) for _ in range(senders)]
    ready = ctx.Barrier(senders + 1)
    procs = [
        ctx.Process(target=_send, args=(port, i, seconds, ready, counters[i], cpus[i], pipelined))
        for i in range(senders)
    ]
    for p in procs:
        p.start()
    before = stats()["messages"] if stats else 0
    sink = psutil.Process(sink_pid) if sink_pid else None
    ready.wait(120)
    sink_cpu = _cpu(sink)
    for p in procs:
        p.join(seconds + 60)
    elapsed = seconds
    sink_used = (_cpu(sink) - sink_cpu) / elapsed if sink else None
    sent = sum(c.value for c in counters)
    received = stats()["messages"] - before if stats else sent
    return {
        "senders": senders,
        "pipelined": pipelined,
        "seconds": seconds,
        "sent": sent,
        "received": received,
        "per_s": round(received / elapsed),
        "sink_cores": round(sink_used, 2) if sink_used is not None else None,
        # CPU per message holds on a busy machine where rates do not: the sink is one
        # asyncio loop, so one core's worth is its ceiling.
        "sink_cpu_ms_per_message": (
            round(1000 * sink_used * elapsed / received, 3) if sink_used and received else None
        ),
        "ceiling_per_core": round(received / (sink_used * elapsed)) if sink_used and received else None,
        "senders_cores": round(sum(c.value for c in cpus) / elapsed, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu(proc) -> float:
    """CPU seconds of the sink's process and its children (Postfix's smtp-sink is one)."""
    if proc is None:
        return 0.0
    total = 0.0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for p in procs:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class _OwnSink:
    """``python -m bench.smtp_sink`` started for a standalone run, spoken to on its stdin."""

    def __init__(self, engine: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port), "--engine", engine],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError("the SMTP sink did not start")

    def command(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict:
        return self.command("stats")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink_ceiling", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--senders", default="1,2,4", help="comma-separated numbers of senders")
    parser.add_argument(
        "--pipelining", action="store_true", help="the sink offers PIPELINING and the senders use it"
    )
    parser.add_argument(
        "--engine",
        choices=("postfix", "aiosmtpd"),
        default="postfix",
        help="the sink's engine (bench.smtp_sink): Postfix's smtp-sink, as the bench runs it, or aiosmtpd",
    )
    args = parser.parse_args(argv)
    sink = _OwnSink(args.engine)
    try:
        if args.pipelining:
            sink.command("pipelining on")
        runs = [
            measure(sink.port, sink.proc.pid, int(n), args.seconds, sink.stats, pipelined=args.pipelining)
            for n in args.senders.split(",")
        ]
    finally:
        sink.close()
    for run in runs:
        print(json.dumps(run))
    best = max(runs, key=lambda r: r["per_s"])
    print(
        f"Measured: {best['per_s']:,} messages/s with {best['senders']} senders (the sink used "
        f"{best['sink_cores']} of a core, {best['sink_cpu_ms_per_message']} ms a message: "
        f"{best['ceiling_per_core']:,}/s with a whole core); load average {best['load_average']}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
