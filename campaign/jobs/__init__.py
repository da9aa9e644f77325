"""RQ jobs. Each takes ids only, runs inside an app context and is safe to run twice."""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from collections.abc import Callable

from flask import Flask, current_app, has_app_context
from rq import SimpleWorker, Worker

from campaign import create_app
from campaign.extensions import db

_worker_app: Flask | None = None


def app_job(func: Callable) -> Callable:
    """Run ``func`` in an app context: the active one (worker command, tests) or one made once."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        global _worker_app
        if _worker_app is None:
            _worker_app = create_app()
        with _worker_app.app_context():
            return func(*args, **kwargs)

    return wrapper


def keeps_loaded_objects(func: Callable) -> Callable:
    """Run ``func`` with a session that keeps what it loaded across commits.

    A job that commits once per item (a receipt per email) would otherwise have every object
    it holds expired at each commit and reloaded, one query each, at its next use. For jobs
    whose objects nobody else changes meanwhile (a batch's campaign and recipients).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        session = db.session()
        before, session.expire_on_commit = session.expire_on_commit, False
        try:
            return func(*args, **kwargs)
        finally:
            session.expire_on_commit = before

    return wrapper


class _PromptUnsubscribe:
    """A worker whose command channel's thread ends when the worker does.

    RQ unsubscribes first and then tells the listening thread to stop: the thread wakes on
    the unsubscribe reply while still told to run, goes back to wait (60 s) for a
    subscription, and RQ gives up joining it after a second. Each worker stop (a burst, a
    deploy) took that second, and left the thread behind. Told to stop first, the thread
    ends on the reply.
    """

    def unsubscribe(self):
        if self.pubsub_thread:
            self.pubsub_thread.stop()
            self.pubsub.unsubscribe()
            self.pubsub_thread.join(timeout=1)
            self.pubsub.close()


class ForkWorker(_PromptUnsubscribe, Worker):
    """RQ's worker (a forked work-horse per job), its command channel stopped promptly."""


class InProcessWorker(_PromptUnsubscribe, SimpleWorker):
    """An RQ worker that runs each job in its own process, without forking a work-horse.

    A fork per job, and the new database connection the work-horse then opens, cost more
    than a small job itself (a confirmation email, a fold). Each job still gets a fresh app
    context, so no database session or transaction outlives it; connections stay pooled.
    """

    def execute_job(self, job, queue):
        with current_app._get_current_object().app_context():
            return super().execute_job(job, queue)


def import_every_job() -> list[str]:
    """Import every module of jobs, and return their names. The worker does it before it
    forks work-horses: RQ finds a job's function by its dotted name, and a module the
    worker had not imported was imported again by every work-horse (each fan-out batch's
    imported ``notify`` and ``digests``: 8% of its time)."""
    names = [f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__)]
    for name in names:
        importlib.import_module(name)
    return names


def _forget_inherited_connections() -> None:
    # A forked work-horse must not reuse the parent's database sockets.
    if has_app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)
