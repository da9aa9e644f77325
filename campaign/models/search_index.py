"""The full-text index of campaigns, kept in step by the database itself (triggers).

PostgreSQL: a ``tsvector`` column on ``campaigns`` (title and brand names weight A, summary
B, demands and story C), built in the English or Spanish configuration by the campaign's
``language`` (``groundswell_english``/``_spanish``: the built-in ones with accents folded by
``unaccent``), with a GIN index; ``pg_trgm`` indexes on titles and brand names for typos.

SQLite: an FTS5 table ``campaign_search`` (rowid = campaign id) with the porter tokenizer.
Porter stems English only, so a Spanish campaign's words are stored as their Snowball
Spanish stems, which the function ``search_text`` (registered on every connection by
:func:`register_sqlite_functions`) computes inside the triggers.

Brand names live in ``brands``: a brand renamed, or a buycott's endorsed brands changed,
re-touches the campaigns concerned so their index entry is rebuilt.

Migration 0022 (PostgreSQL only) makes a search cheap whatever the table's size:

- ``title_vector``: the title and brand names alone (the first half of ``search_vector``),
  with its own GIN index and statistics. A search lists the campaigns whose title or brand
  matches first, then the others, each by momentum: both halves read the momentum index in
  order or a bitmap of few matches, as the planner finds cheaper, and stop at the page's
  end, instead of ranking every match.
- ``search_words``: every word of the titles and brand names, with a trigram index. A word
  of a query that finds too little is matched against this short list ("cofee" is close to
  "coffee"), and the search runs again with the word found, on the full-text index: no
  trigram comparison with every title. Before that, the words one edit away from it
  (:func:`campaign.search.one_edit_from`) are looked up exactly in the list, on both
  engines: a short word's typo shares too few trigrams ("cnas", "cans": none).

Migration 0025 (SQLite only) gives SQLite the same word list for typos:

- ``search_words``: every word of the titles and brand names (lower case, accents
  removed), kept by triggers that split a title with :func:`search_words_of` (a SQL
  function returning the words as a JSON array, read by ``json_each``).
- ``search_words_trigrams``: an FTS5 table with the ``trigram`` tokenizer over that list
  (SQLite 3.34 or later). A word of a query that finds too little is looked up by the
  trigrams it shares with the listed words, and the closest of those found is chosen by
  Python's ``difflib``: a few milliseconds among 70,000 words, where reading every word
  of an FTS5 index through ``fts5vocab`` to compare took most of a second.

Migrations 0018, 0022 and 0025 and the tests' ``create_all`` run :data:`POSTGRESQL_DDL` /
:data:`SQLITE_DDL`, then :data:`POSTGRESQL_DDL_0022` and :data:`SQLITE_DDL_0025`; changing
them needs a new migration that drops and re-creates them. These objects are not in the models' metadata:
:func:`include_object` keeps Alembic's comparison from reporting them.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import unicodedata

import snowballstemmer
from sqlalchemy import event, text

from campaign.models.base import Base

#: Letters and digits, as FTS5's unicode61 tokenizer and to_tsvector split words.
WORD = re.compile(r"[^\W_]+")

# A snowball stemmer keeps the word it works on in itself: one per thread (gunicorn's
# threaded workers stem at once; a shared one raised IndexError under load).
_STEMMERS = threading.local()


def _stemmer(language: str):
    stemmer = getattr(_STEMMERS, language, None)
    if stemmer is None:
        stemmer = snowballstemmer.stemmer(language)
        setattr(_STEMMERS, language, stemmer)
    return stemmer


@functools.lru_cache(maxsize=50_000)
def spanish_stem(word: str) -> str:
    return _stemmer("spanish").stemWord(word.lower())


@functools.lru_cache(maxsize=50_000)
def english_stem(word: str) -> str:
    return _stemmer("english").stemWord(word.lower())


def search_text(language: str | None, value: str | None) -> str:
    """What the SQLite index stores for ``value``: the text itself for English (porter stems
    it), the Spanish stems of its words for Spanish."""
    if not value:
        return ""
    if language == "es":
        return " ".join(spanish_stem(w) for w in WORD.findall(value))
    return value


#: Letters only, as PostgreSQL's ``[^[:alpha:]]+`` splits the words of the typo list.
LETTERS = re.compile(r"[^\W\d_]+")


def plain_word(word: str) -> str:
    """``word`` in lower case without its accents, as the typo list keeps words (what
    PostgreSQL's ``lower(unaccent(…))`` gives)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_words_of(value: str | None) -> str:
    """The words of ``value`` the typo list keeps (letters only, three to forty of them,
    lower case, accents removed), as a JSON array for ``json_each``."""
    words = {w for w in LETTERS.findall(plain_word(value or "")) if 3 <= len(w) <= 40}
    return json.dumps(sorted(words))


def register_sqlite_functions(dbapi_connection) -> None:
    """Make ``search_text(language, text)`` and ``search_words_of(text)`` callable in SQL
    (the index's triggers use them)."""
    dbapi_connection.create_function("search_text", 2, search_text, deterministic=True)
    dbapi_connection.create_function("search_words_of", 1, search_words_of, deterministic=True)


# ---------------------------------------------------------------------------- PostgreSQL

_PG_BRAND_NAMES = """
    SELECT string_agg(b.name, ' ') FROM brands b
    WHERE b.id = NEW.target_brand_id
       OR b.id IN (SELECT e.brand_id FROM endorsements e WHERE e.campaign_id = NEW.id)"""

POSTGRESQL_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Accents folded as SQLite's remove_diacritics does: "nestle" finds "Nestlé".
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION groundswell_english (COPY = english)",
    """ALTER TEXT SEARCH CONFIGURATION groundswell_english
       ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem""",
    "CREATE TEXT SEARCH CONFIGURATION groundswell_spanish (COPY = spanish)",
    """ALTER TEXT SEARCH CONFIGURATION groundswell_spanish
       ALTER MAPPING FOR hword, hword_part, word WITH unaccent, spanish_stem""",
    "ALTER TABLE campaigns ADD COLUMN search_vector tsvector",
    """CREATE FUNCTION campaign_search_config(language text) RETURNS regconfig
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
       $$ SELECT CASE WHEN language = 'es' THEN 'groundswell_spanish'::regconfig
                      ELSE 'groundswell_english'::regconfig END $$""",
    f"""CREATE FUNCTION campaign_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         cfg regconfig := campaign_search_config(NEW.language);
         names text := ({_PG_BRAND_NAMES});
       BEGIN
         NEW.search_vector :=
           setweight(to_tsvector(cfg, coalesce(NEW.title, '')), 'A') ||
           setweight(to_tsvector(cfg, coalesce(names, '')), 'A') ||
           setweight(to_tsvector(cfg, coalesce(NEW.summary, '')), 'B') ||
           setweight(to_tsvector(cfg, concat_ws(' ', NEW.demand, NEW.demands, NEW.body)), 'C');
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER campaigns_search_vector
       BEFORE INSERT OR UPDATE OF title, summary, body, demand, demands, language,
                                  target_brand_id
       ON campaigns FOR EACH ROW EXECUTE FUNCTION campaign_search_vector()""",
    # Setting a column to itself fires the trigger above: the entry is rebuilt.
    """CREATE FUNCTION campaign_search_brand_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE campaigns SET title = title
         WHERE target_brand_id = NEW.id
            OR id IN (SELECT campaign_id FROM endorsements WHERE brand_id = NEW.id);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER brands_search_renamed AFTER UPDATE OF name ON brands FOR EACH ROW
       WHEN (OLD.name IS DISTINCT FROM NEW.name)
       EXECUTE FUNCTION campaign_search_brand_renamed()""",
    """CREATE FUNCTION campaign_search_endorsement() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE campaigns SET title = title WHERE id = CASE WHEN TG_OP = 'DELETE'
                                                      THEN OLD.campaign_id
                                                      ELSE NEW.campaign_id END;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER endorsements_search AFTER INSERT OR DELETE OR UPDATE OF brand_id
       ON endorsements FOR EACH ROW EXECUTE FUNCTION campaign_search_endorsement()""",
    "CREATE INDEX ix_campaigns_search_vector ON campaigns USING gin (search_vector)",
    "CREATE INDEX ix_campaigns_title_trgm ON campaigns USING gin (title gin_trgm_ops)",
    "CREATE INDEX ix_brands_name_trgm ON brands USING gin (name gin_trgm_ops)",
)

POSTGRESQL_DROP = (
    "DROP INDEX IF EXISTS ix_brands_name_trgm",
    "DROP INDEX IF EXISTS ix_campaigns_title_trgm",
    "DROP INDEX IF EXISTS ix_campaigns_search_vector",
    "DROP TRIGGER IF EXISTS endorsements_search ON endorsements",
    "DROP FUNCTION IF EXISTS campaign_search_endorsement()",
    "DROP TRIGGER IF EXISTS brands_search_renamed ON brands",
    "DROP FUNCTION IF EXISTS campaign_search_brand_renamed()",
    "DROP TRIGGER IF EXISTS campaigns_search_vector ON campaigns",
    "DROP FUNCTION IF EXISTS campaign_search_vector()",
    "DROP FUNCTION IF EXISTS campaign_search_config(text)",
    "ALTER TABLE campaigns DROP COLUMN IF EXISTS search_vector",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS groundswell_spanish",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS groundswell_english",
)

# ---------------------------------------------------------------------------- PostgreSQL, 0022

#: Words of titles and brand names kept for typos: letters only, at least three of them.
_PG_WORDS = """
    INSERT INTO search_words (word)
    SELECT DISTINCT w FROM regexp_split_to_table(lower(unaccent(coalesce(value, ''))), '[^[:alpha:]]+') AS w
    WHERE length(w) BETWEEN 3 AND 40
    ON CONFLICT DO NOTHING"""


def _pg_vector_function(title_vector: bool) -> str:
    title = "setweight(to_tsvector(cfg, coalesce(NEW.title, '')), 'A') ||\n" + (
        "           setweight(to_tsvector(cfg, coalesce(names, '')), 'A')"
    )
    if title_vector:
        head = f"NEW.title_vector :=\n           {title};\n         NEW.search_vector := NEW.title_vector"
    else:
        head = f"NEW.search_vector :=\n           {title}"
    return f"""CREATE OR REPLACE FUNCTION campaign_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         cfg regconfig := campaign_search_config(NEW.language);
         names text := ({_PG_BRAND_NAMES});
       BEGIN
         {head} ||
           setweight(to_tsvector(cfg, coalesce(NEW.summary, '')), 'B') ||
           setweight(to_tsvector(cfg, concat_ws(' ', NEW.demand, NEW.demands, NEW.body)), 'C');
         RETURN NEW;
       END $$"""


POSTGRESQL_DDL_0022 = (
    "ALTER TABLE campaigns ADD COLUMN title_vector tsvector",
    _pg_vector_function(title_vector=True),
    "CREATE INDEX ix_campaigns_title_vector ON campaigns USING gin (title_vector)",
    # Typos are looked up in search_words now, not in every title.
    "DROP INDEX IF EXISTS ix_campaigns_title_trgm",
    "CREATE TABLE search_words (word text NOT NULL, CONSTRAINT pk_search_words PRIMARY KEY (word))",
    "CREATE INDEX ix_search_words_trgm ON search_words USING gin (word gin_trgm_ops)",
    f"""CREATE FUNCTION search_words_add(value text) RETURNS void LANGUAGE sql AS $$
       {_PG_WORDS} $$""",
    """CREATE FUNCTION campaign_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM search_words_add(NEW.title);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER campaigns_search_words_insert AFTER INSERT ON campaigns
       FOR EACH ROW EXECUTE FUNCTION campaign_search_words()""",
    """CREATE TRIGGER campaigns_search_words_update AFTER UPDATE OF title ON campaigns
       FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
       EXECUTE FUNCTION campaign_search_words()""",
    """CREATE FUNCTION brand_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM search_words_add(NEW.name);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER brands_search_words_insert AFTER INSERT ON brands
       FOR EACH ROW EXECUTE FUNCTION brand_search_words()""",
    """CREATE TRIGGER brands_search_words_update AFTER UPDATE OF name ON brands
       FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
       EXECUTE FUNCTION brand_search_words()""",
)

POSTGRESQL_DROP_0022 = (
    "DROP TRIGGER IF EXISTS brands_search_words_update ON brands",
    "DROP TRIGGER IF EXISTS brands_search_words_insert ON brands",
    "DROP FUNCTION IF EXISTS brand_search_words()",
    "DROP TRIGGER IF EXISTS campaigns_search_words_update ON campaigns",
    "DROP TRIGGER IF EXISTS campaigns_search_words_insert ON campaigns",
    "DROP FUNCTION IF EXISTS campaign_search_words()",
    "DROP FUNCTION IF EXISTS search_words_add(text)",
    "DROP TABLE IF EXISTS search_words",
    "DROP INDEX IF EXISTS ix_campaigns_title_vector",
    _pg_vector_function(title_vector=False),
    "ALTER TABLE campaigns DROP COLUMN IF EXISTS title_vector",
    "CREATE INDEX IF NOT EXISTS ix_campaigns_title_trgm ON campaigns USING gin (title gin_trgm_ops)",
)

# ---------------------------------------------------------------------------- SQLite

_SQLITE_ROW = """
    INSERT INTO campaign_search (rowid, title, brands, summary, body) VALUES (
      new.id,
      search_text(new.language, new.title),
      search_text(new.language, (
        SELECT group_concat(b.name, ' ') FROM brands b
        WHERE b.id = new.target_brand_id
           OR b.id IN (SELECT e.brand_id FROM endorsements e WHERE e.campaign_id = new.id))),
      search_text(new.language, new.summary),
      search_text(new.language, coalesce(new.demand, '') || ' ' || coalesce(new.demands, '')
                                || ' ' || coalesce(new.body, '')));"""

SQLITE_DDL = (
    """CREATE VIRTUAL TABLE campaign_search USING fts5(
         title, brands, summary, body, tokenize = 'porter unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER campaigns_search_insert AFTER INSERT ON campaigns BEGIN
         {_SQLITE_ROW}
       END""",
    f"""CREATE TRIGGER campaigns_search_update
       AFTER UPDATE OF title, summary, body, demand, demands, language, target_brand_id
       ON campaigns BEGIN
         DELETE FROM campaign_search WHERE rowid = old.id;
         {_SQLITE_ROW}
       END""",
    """CREATE TRIGGER campaigns_search_delete AFTER DELETE ON campaigns BEGIN
         DELETE FROM campaign_search WHERE rowid = old.id;
       END""",
    """CREATE TRIGGER brands_search_renamed AFTER UPDATE OF name ON brands
       WHEN old.name IS NOT new.name BEGIN
         UPDATE campaigns SET title = title
         WHERE target_brand_id = new.id
            OR id IN (SELECT campaign_id FROM endorsements WHERE brand_id = new.id);
       END""",
    """CREATE TRIGGER endorsements_search_insert AFTER INSERT ON endorsements BEGIN
         UPDATE campaigns SET title = title WHERE id = new.campaign_id;
       END""",
    """CREATE TRIGGER endorsements_search_delete AFTER DELETE ON endorsements BEGIN
         UPDATE campaigns SET title = title WHERE id = old.campaign_id;
       END""",
)

SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS endorsements_search_delete",
    "DROP TRIGGER IF EXISTS endorsements_search_insert",
    "DROP TRIGGER IF EXISTS brands_search_renamed",
    "DROP TRIGGER IF EXISTS campaigns_search_delete",
    "DROP TRIGGER IF EXISTS campaigns_search_update",
    "DROP TRIGGER IF EXISTS campaigns_search_insert",
    "DROP TABLE IF EXISTS campaign_search",
)


# ---------------------------------------------------------------------------- SQLite, 0025


def _sqlite_words_from(value: str) -> str:
    return f"""INSERT INTO search_words (word)
         SELECT DISTINCT value FROM json_each(search_words_of({value}))
         WHERE value NOT IN (SELECT word FROM search_words);"""


SQLITE_DDL_0025 = (
    "CREATE TABLE search_words (word TEXT NOT NULL, CONSTRAINT pk_search_words PRIMARY KEY (word))",
    # A copy of the list, not an external-content table over it: VACUUM may renumber the
    # rowids such a table points at. Words are never removed, as on PostgreSQL.
    "CREATE VIRTUAL TABLE search_words_trigrams USING fts5(word, tokenize = 'trigram')",
    """CREATE TRIGGER search_words_trigrams_insert AFTER INSERT ON search_words BEGIN
         INSERT INTO search_words_trigrams (word) VALUES (new.word);
       END""",
    f"""CREATE TRIGGER campaigns_search_words_insert AFTER INSERT ON campaigns BEGIN
         {_sqlite_words_from("new.title")}
       END""",
    f"""CREATE TRIGGER campaigns_search_words_update AFTER UPDATE OF title ON campaigns
       WHEN old.title IS NOT new.title BEGIN
         {_sqlite_words_from("new.title")}
       END""",
    f"""CREATE TRIGGER brands_search_words_insert AFTER INSERT ON brands BEGIN
         {_sqlite_words_from("new.name")}
       END""",
    f"""CREATE TRIGGER brands_search_words_update AFTER UPDATE OF name ON brands
       WHEN old.name IS NOT new.name BEGIN
         {_sqlite_words_from("new.name")}
       END""",
)

SQLITE_DROP_0025 = (
    "DROP TRIGGER IF EXISTS brands_search_words_update",
    "DROP TRIGGER IF EXISTS brands_search_words_insert",
    "DROP TRIGGER IF EXISTS campaigns_search_words_update",
    "DROP TRIGGER IF EXISTS campaigns_search_words_insert",
    "DROP TRIGGER IF EXISTS search_words_trigrams_insert",
    "DROP TABLE IF EXISTS search_words_trigrams",
    "DROP TABLE IF EXISTS search_words",
)


def create_search_index(connection) -> None:
    """Create the index, its triggers, and fill it from the campaigns already there."""
    dialect = connection.dialect.name
    for statement in POSTGRESQL_DDL if dialect == "postgresql" else SQLITE_DDL:
        connection.execute(text(statement))
    # Rebuild every entry (the triggers fire on a column set to itself).
    connection.execute(text("UPDATE campaigns SET title = title"))


def upgrade_search_index_0022(connection) -> None:
    """Migration 0022's part (PostgreSQL; nothing on SQLite): the title vector and the word
    list, filled from the campaigns and brands already there."""
    if connection.dialect.name != "postgresql":
        return
    for statement in POSTGRESQL_DDL_0022:
        connection.execute(text(statement))
    connection.execute(text("UPDATE campaigns SET title = title"))
    connection.execute(text("SELECT search_words_add(string_agg(title, ' ')) FROM campaigns"))
    connection.execute(text("SELECT search_words_add(string_agg(name, ' ')) FROM brands"))


def downgrade_search_index_0022(connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for statement in POSTGRESQL_DROP_0022:
        connection.execute(text(statement))


def upgrade_search_index_0025(connection) -> None:
    """Migration 0025's part (SQLite; nothing on PostgreSQL, whose list came with 0022): the
    word list and its trigrams, filled from the campaigns and brands already there."""
    if connection.dialect.name != "sqlite":
        return
    for statement in SQLITE_DDL_0025:
        connection.execute(text(statement))
    for table, column in (("campaigns", "title"), ("brands", "name")):
        connection.execute(
            text(
                f"""INSERT INTO search_words (word)
                SELECT DISTINCT value FROM {table}, json_each(search_words_of({table}.{column}))
                WHERE value NOT IN (SELECT word FROM search_words)"""
            )
        )


def downgrade_search_index_0025(connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    for statement in SQLITE_DROP_0025:
        connection.execute(text(statement))


def drop_search_index(connection) -> None:
    dialect = connection.dialect.name
    for statement in POSTGRESQL_DROP if dialect == "postgresql" else SQLITE_DROP:
        connection.execute(text(statement))


@event.listens_for(Base.metadata, "after_create")
def _after_tables_made(_metadata, connection, **_kw) -> None:
    # The tests build their schema with create_all, not the migrations: same index.
    if connection.dialect.name == "postgresql":
        exists = connection.execute(
            text(
                "SELECT 1 FROM information_schema.columns WHERE table_name = 'campaigns' "
                "AND column_name = 'search_vector'"
            )
        ).first()
    else:
        exists = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'campaign_search'")
        ).first()
    if not exists:
        create_search_index(connection)
        upgrade_search_index_0022(connection)
        upgrade_search_index_0025(connection)


#: The tables of rows this module's DDL makes, by engine, that no model maps and no trigger
#: empties when the models' tables are emptied: the typo word list (words are never removed
#: in use; a test database emptied between tests empties these too). ``campaign_search``
#: follows the campaigns by its triggers.
WORD_LIST_TABLES = {
    "postgresql": ("search_words",),
    "sqlite": ("search_words", "search_words_trigrams"),
}

_NOT_IN_METADATA = re.compile(
    r"^(campaign_search(_\w+)?|search_vector|title_vector|search_words(_\w+)?|ix_\w+_(trgm|search_vector|title_vector))$"
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic's comparison: leave out the search index's objects, made by raw DDL."""
    return not (reflected and compare_to is None and name and _NOT_IN_METADATA.match(name))
