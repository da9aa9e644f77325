"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from campaign.extensions import db
from campaign.models import Base
from campaign.models.search_index import include_object
from tests.conftest import create_pg_database, make_test_app


def _upgrade_and_compare(app):
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "include_object": include_object})
            diff = compare_metadata(context, Base.metadata)
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    return diff, tables


def test_migrations_match_models_on_sqlite(tmp_path, redis_url):
    app = make_test_app(f"sqlite:///{tmp_path / 'migrated.db'}", redis_url, tmp_path)
    diff, tables = _upgrade_and_compare(app)
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def test_migrations_match_models_on_postgresql(tmp_path, redis_url, postgres_server_url):
    url = create_pg_database(postgres_server_url, "groundswell_migrations")
    app = make_test_app(url, redis_url, tmp_path)
    diff, tables = _upgrade_and_compare(app)
    assert diff == []
    assert set(Base.metadata.tables) <= tables
