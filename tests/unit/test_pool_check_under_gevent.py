"""The pooled connection's check before use (``campaign.dbutil._readable``) in a gevent worker:
the operating system's ``poll``, not gevent's cooperative copy, with the same answers."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from gevent import monkey

monkey.patch_all()
import select
import socket

from campaign import dbutil

assert select.poll is not monkey.get_original("select", "poll")  # gevent's copy, patched
assert dbutil._os_poll() is monkey.get_original("select", "poll")
quiet, talking = socket.socketpair()
assert dbutil._readable(quiet.fileno()) is False  # nothing sent: not readable, no wait
talking.send(b"x")
assert dbutil._readable(quiet.fileno()) is True
talking.close()
quiet.recv(1)
assert dbutil._readable(quiet.fileno()) is True  # closed by the other side: readable
print("ok")
"""


def test_a_gevent_worker_checks_its_pooled_connections_with_the_systems_poll():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_without_gevent_the_poll_is_selects_own():
    import select

    from campaign import dbutil

    assert dbutil._os_poll() is select.poll  # nothing patched it: the system's
