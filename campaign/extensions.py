"""Extension objects, created unbound here and initialised in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from campaign.models.base import Base
from campaign.replica import RoutingSession

db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def check_limits_in_views_only(app, limiter: Limiter = limiter) -> None:
    """Take ``limiter``'s before-request check off ``app`` when it has nothing to check.

    Every rate limit here decorates its view, and the decorator checks it when the view is
    called. The before-request hook adds only default, application, meta and blueprint
    limits, of which none is set, yet it resolved each endpoint's limits afresh on every
    request: about 0.1 ms of CPU, a sixteenth of a signature's. With any such limit set (or
    a Flask-Limiter that keeps them under other names) the hook stays."""
    manager = limiter.limit_manager
    wider = [
        getattr(manager, name, True)
        for name in ("_application_limits", "_default_limits", "_blueprint_limits")
    ]
    if any(wider) or getattr(limiter, "_meta_limits", True):
        return
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
