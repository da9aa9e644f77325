"""The bare ceiling and the lean prototype in one gunicorn server (``bench.ceilings:app``).

One server fewer to start (and to hold in memory) on a small machine; the scenarios load
them one after the other, so the server's CPU during a load is that load's.
"""

from __future__ import annotations

from bench.bare import app as bare_app
from bench.lean import app as lean_app
from bench.lean import raw_support


def app(environ, start_response):
    """``/lean/raw/…`` to the lean prototype's signing without Flask, ``/lean/…`` to the lean
    prototype, everything else to the bare ceiling."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/lean/raw/") and path.endswith("/support"):
        return raw_support(environ, start_response)
    if path.startswith("/lean/"):
        return lean_app(environ, start_response)
    return bare_app(environ, start_response)
