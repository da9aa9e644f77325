"""The browser lane's live server closes every response, even one whose connection the
browser reset while it was being sent."""

from __future__ import annotations

import socket
import struct
import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

from campaign.config import ROOT
from tests.backends import closing_every_response


def test_a_reset_connection_leaves_no_file_open(monkeypatch):
    app = Flask(__name__, static_folder=str(ROOT / "static"))
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    server = make_server("127.0.0.1", 0, closing_every_response(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        for _ in range(50):  # without the wrapper, most of these left the file open
            with socket.create_connection(("127.0.0.1", server.port)) as conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
                conn.sendall(b"GET /static/img/favicon.svg HTTP/1.1\r\nHost: live\r\n\r\n")
                assert conn.recv(12) == b"HTTP/1.1 200"
    finally:
        server.shutdown()
        server.server_close()
    assert [u.exc_value for u in unraisable] == []
