"""RQ jobs. Each takes ids only, runs inside an app context and is safe to run twice."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from flask import Flask, has_app_context

_worker_app: Flask | None = None


def app_job(func: Callable) -> Callable:
    """Run ``func`` in an app context: the active one (worker command, tests) or one made once."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            from campaign import create_app

            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


def _forget_inherited_connections() -> None:
    # A forked work-horse must not reuse the parent's database sockets.
    from campaign.extensions import db

    if has_app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)
