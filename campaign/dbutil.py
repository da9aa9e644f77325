"""Statements that differ by backend: inserts that may collide on a unique constraint."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from campaign.extensions import db


def insert_ignoring_conflicts(model, index_elements: list[str], **values):
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING RETURNING id`` for the session's backend.

    Returns the new row's id, or None when a row with the same key already exists. The
    database decides, so two concurrent inserts can never both succeed.
    """
    dialect = db.session.get_bind().dialect.name
    key = (model, dialect, tuple(index_elements), tuple(values))
    stmt = _inserts.get(key)
    if stmt is None:
        # Built once per model and set of columns, the values passed as parameters: building
        # the statement around each row's values was most of a signature's insert.
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(model.__table__)
            .on_conflict_do_nothing(index_elements=index_elements)
            .returning(model.__table__.c.id)
        )
        _inserts[key] = stmt
    return db.session.execute(stmt, values).scalar()


_inserts: dict[tuple, object] = {}


def upsert_add(model, index_elements: list[str], column: str, amount: int, **key):
    """``INSERT … ON CONFLICT DO UPDATE SET column = column + amount`` (a counter upsert)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(**key, **{column: amount})
    stmt = stmt.on_conflict_do_update(
        index_elements=index_elements,
        set_={column: getattr(model, column) + stmt.excluded[column]},
    )
    db.session.execute(stmt)
