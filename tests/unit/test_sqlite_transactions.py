"""SQLite write transactions begin IMMEDIATE: concurrent writers wait their turn instead of
failing with "database is locked" (the embedded default runs a web process and a worker)."""

from __future__ import annotations

import contextvars
import threading

from sqlalchemy import event, func, select

from campaign.extensions import db
from campaign.models import Base, CampaignKind, Support
from campaign.services import supports as service
from tests.backends import make_test_app
from tests.factories import make_campaign


def test_writers_on_sqlite_begin_immediate_and_never_fail_as_locked(tmp_path, redis_url):
    app = make_test_app(f"sqlite:///{tmp_path / 'busy.db'}", redis_url, tmp_path)
    begins: list[str] = []
    errors: list[BaseException] = []

    def writer(i: int, petition_id: int) -> None:
        # A fresh context, like a request or a job: the default BEGIN IMMEDIATE applies.
        with app.app_context():
            try:
                for j in range(5):  # read, then write, in one transaction each time
                    db.session.execute(select(func.count()).select_from(Support)).scalar_one()
                    service.add_support(
                        petition_id, name=f"Writer {i}", email=f"w{i}.{j}@example.org", country="GB"
                    )
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    with app.app_context():
        Base.metadata.create_all(db.engine)
        petition_id = make_campaign(CampaignKind.PETITION).id
        db.session.commit()

        @event.listens_for(db.engine, "before_cursor_execute")
        def seen(conn, cursor, statement, *args):
            if statement.startswith("BEGIN"):
                begins.append(statement)

        threads = [
            threading.Thread(target=contextvars.Context().run, args=(writer, i, petition_id))
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert db.session.execute(select(func.count()).select_from(Support)).scalar_one() == 40
        assert begins and set(begins) == {"BEGIN IMMEDIATE"}
        db.session.remove()
        db.engine.dispose()
