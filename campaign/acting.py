"""The shape of a view that carries out one action: call the service, flash what happened,
go back to a page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from werkzeug.wrappers import Response

from campaign.extensions import db
from campaign.services import ServiceError

T = TypeVar("T")


def act(
    action: Callable[[], T],
    *,
    then: str | Callable[[T], str],
    done: str | Callable[[T], str] | None = None,
    category: str = "success",
    failed: str | None = None,
) -> Response:
    """Run ``action`` (a service call) and redirect.

    On success flash ``done`` (a message, or a function of the action's result) as
    ``category`` and go to ``then`` (a URL, or a function of the result). On
    :class:`ServiceError` roll the session back, flash its message as an error and go to
    ``failed`` (default: ``then`` when it is a URL). Other errors propagate.
    """
    try:
        result = action()
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(failed if failed is not None else _resolve(then, None))
    if done is not None:
        flash(_resolve(done, result), category)
    return redirect(_resolve(then, result))


def _resolve(value: Any, result: Any) -> str:
    return value(result) if callable(value) else value
