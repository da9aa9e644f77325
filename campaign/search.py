"""Finding campaigns: full-text search, filters and sorts, shared by browse, the API, the
topic pages and the campaign form (similar campaigns, the brand picker).

The query language is PostgreSQL's ``websearch_to_tsquery`` on both engines: words (all
must match, in any order and any form of the word), ``"quoted phrases"``, ``-exclusions``
and ``or`` between two terms. PostgreSQL runs it on the ``tsvector`` index, SQLite on FTS5
(see :mod:`campaign.models.search_index`); both rank by relevance, then momentum.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import string
from dataclasses import dataclass, field, replace

from flask import request
from markupsafe import Markup, escape
from sqlalchemy import (
    Integer,
    Select,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import defer, joinedload

from campaign.extensions import db
from campaign.models import (
    PUBLIC_STATES,
    Brand,
    Campaign,
    CampaignKind,
    CampaignState,
    CountryCount,
    Endorsement,
    Topic,
    campaign_topics,
)
from campaign.models.search_index import WORD, english_stem, plain_word, spanish_stem

#: The longest query read (longer ones are cut).
MAX_QUERY = 100
#: A query finding fewer public campaigns than this is read again with its typos corrected.
TYPO_BELOW = 5


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with ``%``, ``_`` and ``\\`` in ``text`` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---------------------------------------------------------------------------- the query


@dataclass
class ParsedQuery:
    """A query as websearch_to_tsquery reads it: groups that must all match (each group
    matches if any of its terms does), and terms that must not. A term is a tuple of words;
    more than one word is a phrase."""

    groups: list[list[tuple[str, ...]]] = field(default_factory=list)
    excluded: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def words(self) -> set[str]:
        """Every word the query asks for (not the excluded ones), lower case."""
        return {w for group in self.groups for term in group for w in term}

    @property
    def contradicts(self) -> bool:
        """Whether a group can never match: each of its terms holds a word the query also
        excludes ("label tax -tax"). No campaign both has a word and has it not, so nothing
        is read: the index would be walked for matches that are all thrown away (150 ms of
        PostgreSQL on 100,000 campaigns). A stop word PostgreSQL leaves out of both sides
        ("coffee the -the") finds nothing here too, as it does on SQLite."""
        excluded = {term[0] for term in self.excluded if len(term) == 1}
        return bool(excluded) and any(
            all(excluded.intersection(term) for term in group) for group in self.groups
        )


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(query: str) -> ParsedQuery:
    parsed = ParsedQuery()
    join_next = False
    for match in _TOKEN.finditer(query[:MAX_QUERY]):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare.lower() == "or":
                join_next = bool(parsed.groups)
                continue
            negated = "-" if bare.startswith("-") else ""
            phrase = bare.lstrip("-")
        words = tuple(w.lower() for w in WORD.findall(phrase or ""))
        if not words:
            continue
        if negated:
            parsed.excluded.append(words)
            join_next = False
        elif join_next:
            parsed.groups[-1].append(words)
            join_next = False
        else:
            parsed.groups.append([words])
    return parsed


def _fts5_term(words: tuple[str, ...]) -> str:
    """A word or phrase for FTS5: as written (porter stems English) or as its Spanish stems
    (how a Spanish campaign's words are stored)."""
    written = '"' + " ".join(words) + '"'
    spanish = '"' + " ".join(spanish_stem(w) for w in words) + '"'
    return written if spanish == written else f"({written} OR {spanish})"


def _fts5_any(terms: list[tuple[str, ...]]) -> str:
    return "(" + " OR ".join(_fts5_term(t) for t in terms) + ")"


def fts5_query(parsed: ParsedQuery, columns: str = "") -> str | None:
    """The FTS5 MATCH expression of the groups (None when there are none), each phrase
    limited to ``columns`` (a column filter such as ``{title brands}``) when given."""
    if not parsed.groups:
        return None
    expression = " AND ".join(_fts5_any(group) for group in parsed.groups)
    return f"{columns} : ({expression})" if columns else expression


def _fts5_hits(match: str):
    return (
        text("SELECT rowid AS campaign_id FROM campaign_search WHERE campaign_search MATCH :match")
        .bindparams(bindparam("match", match, unique=True))
        .columns(campaign_id=Integer)
    )


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _postgresql_match(column: str, query: str, negated: bool = False):
    """``campaigns.<column> @@ query`` (``NOT`` that when ``negated``), each campaign matched
    in its own language's configuration (two index scans OR-ed). Written as SQL text:
    building it from expression objects cost more CPU than running it."""
    return text(
        ("NOT " if negated else "") + f"(campaigns.language = 'es' AND campaigns.{column} @@ "
        "websearch_to_tsquery('groundswell_spanish', :query) OR "
        f"campaigns.language <> 'es' AND campaigns.{column} @@ "
        "websearch_to_tsquery('groundswell_english', :query))"
    ).bindparams(bindparam("query", query, unique=True))


def websearch_text(parsed: ParsedQuery, also: dict[str, str] | None = None) -> str:
    """``parsed`` written back as a query, each word of ``also`` as ``word or other``."""
    also = also or {}

    def term(words: tuple[str, ...]) -> str:
        if len(words) > 1:
            return '"' + " ".join(words) + '"'
        return f"{words[0]} or {also[words[0]]}" if words[0] in also else words[0]

    parts = [" or ".join(term(t) for t in group) for group in parsed.groups]
    parts += ["-" + term(t) for t in parsed.excluded]
    return " ".join(parts)


#: The typo check (PostgreSQL), one round trip: the words of ``query`` that are in no title or
#: brand name when it finds fewer than ``below`` public campaigns, each with the listed words
#: one edit away (``is_edit``) and the closest listed word by trigrams. ``hits`` is
#: MATERIALIZED so that it is planned for all its rows (the GIN index for a word that finds
#: few) and read lazily up to ``below``: under a plain LIMIT the planner bet on a sequential
#: scan stopping early, and for a typo, which finds nothing, read every campaign.
_TYPOS = text(
    """
    WITH hits AS MATERIALIZED (
      SELECT 1 FROM campaigns
      WHERE state IN :public
        AND (language = 'es' AND search_vector @@ websearch_to_tsquery('groundswell_spanish', :query)
             OR language <> 'es' AND search_vector @@ websearch_to_tsquery('groundswell_english', :query))),
    found AS (SELECT count(*) AS n FROM (SELECT 1 FROM hits LIMIT :below) AS first_hits),
    unlisted AS (
      SELECT q.w FROM unnest(CAST(:words AS text[])) AS q(w), found
      WHERE found.n < :below AND NOT EXISTS (SELECT 1 FROM search_words s WHERE s.word = unaccent(q.w)))
    SELECT e.w, s.word, true
    FROM unnest(CAST(:edit_of AS text[]), CAST(:edits AS text[])) AS e(w, edit)
    JOIN unlisted USING (w) JOIN search_words s ON s.word = e.edit
    UNION ALL
    SELECT u.w, (SELECT s.word FROM search_words s WHERE s.word % unaccent(u.w)
                 ORDER BY s.word <-> unaccent(u.w), s.word LIMIT 1), false
    FROM unlisted u
    """
).bindparams(bindparam("public", expanding=True))


def typo_parameters(query: str, words: list[str]) -> dict:
    """The parameters of :data:`_TYPOS` (PostgreSQL) for ``query`` and its ``words``."""
    edits = [(word, edit) for word in words for edit in sorted(one_edit_from(plain_word(word)))]
    return {
        "public": [s.value for s in PUBLIC_STATES],
        "query": query,
        "below": TYPO_BELOW,
        "words": words,
        "edit_of": [word for word, _ in edits],
        "edits": [edit for _, edit in edits],
    }


def _typos_corrected(parsed: ParsedQuery, query: str) -> str | None:
    """When ``query`` finds fewer than :data:`TYPO_BELOW` public campaigns: the query with
    each word that is in no title or brand name also read as the closest one that is (in
    ``search_words``, a short list): the closest listed word one edit away
    (:func:`one_edit_from`), else the closest sharing trigrams; None when nothing changes.
    Exclusions and phrases are kept as written. On PostgreSQL one round trip, whatever it
    finds."""
    words = sorted(
        {w for group in parsed.groups for t in group if len(t) == 1 for w in t if len(w) >= 3 and w.isalpha()}
    )
    if not words:
        return None
    if _is_postgresql():
        rows = db.session.execute(_TYPOS, typo_parameters(query, words)).all()
        one_edit_away: dict[str, list[str]] = {}
        nearest = {}
        for word, listed, is_edit in rows:
            if is_edit:
                one_edit_away.setdefault(word, []).append(listed)
            else:
                nearest[word] = listed
        also = {}
        for word, by_trigrams in nearest.items():
            closest = _closest(plain_word(word), one_edit_away.get(word, ())) or by_trigrams
            if closest and closest != word:
                also[word] = closest
    else:
        also = _sqlite_closest_words(parsed, words)
    return websearch_text(parsed, also) if also else None


#: SQLite: how many words sharing trigrams with a typo are compared with it, and how close
#: (``difflib``'s ratio) the closest must be to be read for it ("cofee"/"coffee": 0.91,
#: "garmnet"/"garment": 0.86).
TYPO_CANDIDATES = 50
TYPO_CLOSENESS = 0.75

_LISTED_WORDS = text("SELECT word FROM search_words WHERE word IN (SELECT value FROM json_each(:words))")
_WORDS_SHARING_TRIGRAMS = text(
    "SELECT word FROM search_words_trigrams WHERE search_words_trigrams MATCH :trigrams "
    "ORDER BY rank LIMIT :limit"
)


def _sqlite_closest_words(parsed: ParsedQuery, words: list[str]) -> dict[str, str]:
    """SQLite's half of :func:`_typos_corrected`: when the query finds too little, each of
    ``words`` that is no word of a title or brand name, with the closest one that is. The
    words sharing most of its trigrams (FTS5's ``trigram`` tokenizer, ranked by bm25) are
    the candidates; ``difflib`` chooses among them."""
    public = select(Campaign.id).where(
        Campaign.state.in_(PUBLIC_STATES),
        Campaign.id.in_(select(_fts5_hits(fts5_query(parsed)).subquery().c.campaign_id)),
    )
    found = db.session.execute(
        select(func.count()).select_from(public.limit(TYPO_BELOW).subquery())
    ).scalar_one()
    if found >= TYPO_BELOW:
        return {}
    return _sqlite_listed_words_for(words)


def _sqlite_listed_words_for(words: list[str]) -> dict[str, str]:
    """Each of ``words`` that is no word of a title or brand name, with the closest one that
    is (when one is close enough). The words sharing most of its trigrams (FTS5's
    ``trigram`` tokenizer, ranked by bm25) are the candidates; ``difflib`` chooses."""
    plain = {word: plain_word(word) for word in words}
    edits = {word: one_edit_from(written) for word, written in plain.items()}
    listed = set(
        db.session.execute(
            _LISTED_WORDS, {"words": json.dumps([*plain.values(), *set().union(*edits.values())])}
        ).scalars()
    )
    also = {}
    for word, written in plain.items():
        if written in listed:
            continue
        closest = _closest(written, edits[word] & listed)
        if closest is None:
            trigrams = sorted({written[i : i + 3] for i in range(len(written) - 2)})
            candidates = db.session.execute(
                _WORDS_SHARING_TRIGRAMS,
                {"trigrams": " OR ".join(f'"{t}"' for t in trigrams), "limit": TYPO_CANDIDATES},
            ).scalars()
            closest = _closest(written, candidates)
        if closest and closest != word:
            also[word] = closest
    return also


def one_edit_from(word: str) -> set[str]:
    """Every word one letter dropped, swapped with the next, changed or added away from
    ``word``: looked up exactly in the word list, these find a typo's word however many
    words are listed, where the words sharing most trigrams miss short ones ("cnas" shares
    none with "cans")."""
    letters = set(string.ascii_lowercase) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {head + tail[1:] for head, tail in splits if tail}
    swapped = {head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1}
    changed = {head + c + tail[1:] for head, tail in splits if tail for c in letters}
    added = {head + c + tail for head, tail in splits for c in letters}
    return (dropped | swapped | changed | added) - {word}


def _closest(written: str, candidates) -> str | None:
    """The candidate closest to ``written`` by ``difflib``'s ratio, if it is close enough
    (:data:`TYPO_CLOSENESS`); of equally close ones, the first in alphabetical order."""
    scored = [(difflib.SequenceMatcher(None, written, c).ratio(), c) for c in sorted(candidates)]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return best[1] if best[0] >= TYPO_CLOSENESS else None


@dataclass
class Searched:
    """What a search did: whether any word narrowed the campaigns, whether it put them best
    first, and the query it ran when it read a typo as a word of the titles (else None)."""

    narrowed: bool
    corrected: str | None = None
    ranked: bool = False


def search(stmt: Select, query: str, *, order: bool = True, window: int | None = None) -> tuple[Select, bool]:
    """``stmt`` narrowed to ``query``, ordered best first when ``order``; and whether any
    word narrowed it. See :func:`search_campaigns`."""
    stmt, searched = search_campaigns(stmt, query, order=order, window=window)
    return stmt, searched.narrowed


def search_campaigns(
    stmt: Select, query: str, *, order: bool = True, window: int | None = None, typos: bool = True
) -> tuple[Select, Searched]:
    """``stmt`` (a select of campaigns) narrowed to ``query``, and what was done.

    Best first is: the campaigns whose title or brand names hold the whole query, then the
    others that match it anywhere (summary, demand, story), each group by momentum. Each
    group is read on its own in momentum order and cut at ``window`` rows (the rows up to
    the end of the page wanted; None: all), so a search costs the page it shows, not the
    number of its matches. A query that finds too little is read again with its typos
    corrected (:func:`_typos_corrected`), unless ``typos`` is false.
    """
    parsed = parse_query(query)
    if not parsed.groups and not parsed.excluded:
        return stmt, Searched(False)
    if parsed.contradicts:
        return stmt.where(false()), Searched(True)
    corrected = _typos_corrected(parsed, query) if parsed.groups and typos else None
    if corrected:
        query, parsed = corrected, parse_query(corrected)
        if parsed.contradicts:
            return stmt.where(false()), Searched(True, corrected)
    if _is_postgresql():
        if parsed.excluded:
            # A filter on the rows found, not an index condition: the index reads what is
            # asked for, and "not this word" asks for nearly every campaign.
            excluded = websearch_text(ParsedQuery(groups=[parsed.excluded]))
            stmt = stmt.where(_postgresql_match("search_vector", excluded, negated=True))
        if not parsed.groups:
            return stmt, Searched(True, corrected)
        wanted = websearch_text(ParsedQuery(groups=parsed.groups))
        anywhere = _postgresql_match("search_vector", wanted)
        if not order:
            return stmt.where(anywhere), Searched(True, corrected)
        in_title = _postgresql_match("title_vector", wanted)
        # Words of one query tend to go together, which PostgreSQL's estimates miss (see
        # _by_momentum); a single word's or alternatives' estimates are good.
        walk = len(parsed.groups) > 1 or any(len(t) > 1 for group in parsed.groups for t in group)
        return _best_first(stmt, in_title, anywhere, window, walk=walk), Searched(True, corrected, True)
    if parsed.excluded:
        excluded = _fts5_hits(_fts5_any(parsed.excluded)).subquery()
        stmt = stmt.where(Campaign.id.not_in(select(excluded.c.campaign_id)))
    if not parsed.groups:
        return stmt, Searched(True, corrected)
    anywhere = Campaign.id.in_(select(_fts5_hits(fts5_query(parsed)).subquery().c.campaign_id))
    if not order:
        return stmt.where(anywhere), Searched(True, corrected)
    in_title = Campaign.id.in_(
        select(_fts5_hits(fts5_query(parsed, columns="{title brands}")).subquery().c.campaign_id)
    )
    return _best_first(stmt, in_title, anywhere, window), Searched(True, corrected, True)


#: A search first reads this many campaigns (at least; twenty per row wanted) in momentum
#: order for its matches, then, if too few matched, asks the full-text index for all of
#: them (see :func:`_by_momentum`).
WALK_ROWS = 1_000
WALK_PER_ROW = 20


def _by_momentum(ids: Select, condition, window: int | None, name: str, walk: bool):
    """The first ``window`` rows of ``ids`` matching ``condition`` by momentum (all of them
    when ``window`` is None), as a CTE of (id, momentum).

    PostgreSQL estimates the words of a query as independent, so for words that go together
    ("coffee farmers") it expects few matches and reads every match from the full-text
    index, thousands of rows for a page of twelve. With ``walk``, the campaigns are first
    read in momentum order, at most ``max(WALK_ROWS, 20 × window)`` of them: when ``window``
    of those match they are the answer (no match further down can come first); only
    otherwise is the index asked, for a query that then matches rarely.
    """
    order = (Campaign.momentum.desc(), Campaign.id.desc())
    exact = ids.where(condition).order_by(*order).limit(window)
    if window is None or not walk:
        return exact.cte(name)
    top = (
        ids.add_columns(case((condition, True), else_=False).label("hit"))
        .order_by(*order)
        .limit(max(WALK_ROWS, WALK_PER_ROW * window))
        .subquery(f"{name}_top")
    )
    walked = (
        select(top.c.id, top.c.momentum)
        .where(top.c.hit)
        .order_by(top.c.momentum.desc(), top.c.id.desc())
        .limit(window)
        .cte(f"{name}_walked")
    )
    enough = select(func.count()).select_from(walked).scalar_subquery() >= window
    indexed = exact.subquery(f"{name}_indexed")
    # One-time filters: the index is read only when the walk found too few.
    return union_all(
        select(walked.c.id, walked.c.momentum).where(enough),
        select(indexed.c.id, indexed.c.momentum).where(~enough),
    ).cte(name)


def _best_first(stmt: Select, in_title, anywhere, window: int | None, walk: bool = False) -> Select:
    """Campaigns of ``stmt`` matching ``in_title`` first, then the rest matching
    ``anywhere``, each by momentum; each part cut at ``window`` rows.

    The second part is every match, not "anywhere but not in the title": a planner that
    takes both conditions as independent would walk the momentum index for rows that
    never come. The title's rows found again there are skipped; when the first part was
    cut at ``window``, the page lies within it anyway.
    """
    ids = stmt.with_only_columns(Campaign.id, Campaign.momentum)
    first = _by_momentum(ids, in_title, window, "title_hits", walk)
    rest = _by_momentum(ids, anywhere, window, "text_hits", walk)
    others = select(rest.c.id, rest.c.momentum, literal(1).label("tier")).where(
        rest.c.id.not_in(select(first.c.id))
    )
    if window is not None:
        # A one-time filter: the second part is not read at all when the first fills the page.
        others = others.where(select(func.count()).select_from(first).scalar_subquery() < window)
    ranked = union_all(select(first.c.id, first.c.momentum, literal(0).label("tier")), others).subquery(
        "ranked"
    )
    return (
        select(Campaign)
        .join(ranked, ranked.c.id == Campaign.id)
        .order_by(ranked.c.tier, ranked.c.momentum.desc(), ranked.c.id.desc())
    )


@functools.lru_cache(maxsize=1024)
def _marked_words(query: str) -> frozenset[str]:
    """The words ``query`` asks for, each as written and as its English and Spanish stems."""
    wanted = set()
    for word in parse_query(query).words:
        wanted |= {word, english_stem(word), spanish_stem(word)}
    return frozenset(wanted)


def highlight(value: str, query: str) -> Markup:
    """``value`` escaped, with the words ``query`` asks for (in any form) in ``<mark>``."""
    wanted = _marked_words(query)
    if not wanted:
        return escape(value)
    out, last = [], 0
    for match in WORD.finditer(value):
        word = match.group().lower()
        if word in wanted or english_stem(word) in wanted or spanish_stem(word) in wanted:
            out.append(str(escape(value[last : match.start()])))
            out.append("<mark>" + str(escape(match.group())) + "</mark>")
            last = match.end()
    out.append(str(escape(value[last:])))
    return Markup("".join(out))


# ---------------------------------------------------------------------------- browsing

#: Sorts: name -> words shown. Each reads one index in order (see Campaign.__table_args__).
SORTS = ("trending", "newest", "supported", "closing", "won")
#: Without a query, trending; with one, relevance (then momentum).
DEFAULT_SORT = "trending"
#: States a visitor may filter by.
STATE_FILTERS = (CampaignState.OPEN, CampaignState.WON, CampaignState.CLOSED)


@dataclass
class Filters:
    """What a visitor asked for on the browse page, a topic page or the API."""

    query: str = ""
    kind: CampaignKind | None = None
    state: CampaignState | None = None
    brand: Brand | None = None
    topic: Topic | None = None
    country: str | None = None
    sort: str | None = None  # None: relevance with a query, else DEFAULT_SORT
    #: Set by :func:`campaigns_statement`: the query searched when typos were corrected.
    corrected: str | None = None

    @property
    def highlighted(self) -> str:
        """The words to mark in the results (the corrected ones when a typo was read)."""
        return self.corrected or self.query


def brand_group_ids(brand: Brand) -> list[int]:
    """The brand and every brand it owns, however deep."""
    return [brand.id, *(b.id for b in brand.descendants())]


def campaigns_statement(filters: Filters, window: int | None = None, typos: bool = True) -> Select:
    """Public campaigns matching ``filters``, in the order asked for. With a query ranked
    best first, only the first ``window`` rows are in that order (None: every row; a page
    needs the rows up to its end, see :func:`browse_page`).

    A query that finds too little is read with its typos corrected, unless ``typos`` is
    false; the query so read is kept in ``filters.corrected`` and read as such by the next
    statement of the same filters (the API counts what its page showed)."""
    stmt = select(Campaign)
    sort = filters.sort
    states = [filters.state] if filters.state else list(PUBLIC_STATES)
    if sort == "closing":
        states = [s for s in states if s == CampaignState.OPEN]
        stmt = stmt.where(Campaign.closes_at.is_not(None))
    elif sort == "won":
        states = [s for s in states if s == CampaignState.WON]
        # Without it, PostgreSQL reads won_at's index from its NULLs (every campaign not
        # won) before the first victory: the bench saw that grow with the table.
        stmt = stmt.where(Campaign.won_at.is_not(None))
    stmt = stmt.where(Campaign.state.in_(states) if len(states) != 1 else Campaign.state == states[0])
    if filters.kind:
        stmt = stmt.where(Campaign.kind == filters.kind)
    if filters.brand is not None:
        ids = brand_group_ids(filters.brand)
        stmt = stmt.where(
            or_(
                Campaign.target_brand_id.in_(ids),
                Campaign.id.in_(select(Endorsement.campaign_id).where(Endorsement.brand_id.in_(ids))),
            )
        )
    if filters.topic is not None:
        stmt = stmt.where(
            exists().where(
                campaign_topics.c.campaign_id == Campaign.id, campaign_topics.c.topic_id == filters.topic.id
            )
        )
    if filters.country:
        stmt = stmt.where(
            exists().where(
                CountryCount.campaign_id == Campaign.id,
                CountryCount.country == filters.country,
                CountryCount.count > 0,
            )
        )
    if filters.corrected:
        stmt, searched = search_campaigns(
            stmt, filters.corrected, order=sort is None, window=window, typos=False
        )
    else:
        stmt, searched = search_campaigns(stmt, filters.query, order=sort is None, window=window, typos=typos)
        filters.corrected = searched.corrected
    if searched.ranked:
        return stmt
    # Only exclusions ("-word"), or a sort asked for: the sort's own order (paging needs one).
    return stmt.order_by(*_order(sort or DEFAULT_SORT))


def _order(sort: str) -> list:
    if sort == "newest":
        return [Campaign.published_at.desc(), Campaign.id.desc()]
    if sort == "supported":
        return [Campaign.confirmed_count.desc(), Campaign.id.desc()]
    if sort == "closing":
        return [Campaign.closes_at, Campaign.id]
    if sort == "won":
        return [Campaign.won_at.desc(), Campaign.id.desc()]
    return [Campaign.momentum.desc(), Campaign.id.desc()]


@dataclass
class Page:
    """One page of results, without counting them all (the count grows with the table)."""

    items: list
    page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def prev_num(self) -> int:
        return self.page - 1


def count_campaigns(filters: Filters, up_to: int) -> int:
    """How many public campaigns match ``filters``, counted up to ``up_to`` (more read as
    ``up_to + 1``): an exact count of every match grows with the table."""
    stmt = campaigns_statement(replace(filters, sort=filters.sort or DEFAULT_SORT)).order_by(None)
    capped = stmt.with_only_columns(Campaign.id).limit(up_to + 1).subquery()
    return db.session.execute(select(func.count()).select_from(capped)).scalar_one()


def browse_page(filters: Filters, page: int, per_page: int) -> Page:
    """Page ``page`` of the public campaigns matching ``filters``; with its typos corrected
    when the query finds fewer than :data:`TYPO_BELOW` (sets ``filters.corrected``).

    The page is read first as typed: when it shows that the query and filters find
    :data:`TYPO_BELOW` or more, no typo is looked for (a round trip saved on most searches).
    Otherwise the typos are looked up as :func:`search_campaigns` does (that check counts
    the query's public campaigns, whatever the filters), and the page read again if any was
    corrected, so every page of a search reads the query the same way."""
    window = page * per_page + 1
    found = page_of(campaigns_statement(filters, window=window, typos=False), page, per_page)
    if filters.query and not filters.corrected and _too_few(found, per_page):
        stmt = campaigns_statement(filters, window=window)
        if filters.corrected:
            found = page_of(stmt, page, per_page)
    return found


def _too_few(found: Page, per_page: int) -> bool:
    """Whether ``found`` leaves open that fewer than :data:`TYPO_BELOW` campaigns match: a
    page shows that the pages before it are full, and its look-ahead row that one more
    follows; an empty page past the first says nothing of the pages before it."""
    if not found.items:
        return True
    known = (found.page - 1) * per_page + len(found.items) + (1 if found.has_next else 0)
    return known < TYPO_BELOW


#: What a list of campaigns (a card, the API's summary) never shows: the long texts, left
#: unread (and an error if something starts to read them, rather than a query per row).
_NOT_LISTED = tuple(
    defer(column, raiseload=True)
    for column in (
        Campaign.body,
        Campaign.victory_story,
        Campaign.rejection_reason,
        Campaign.picture_removed_reason,
    )
)


def page_of(stmt: Select, page: int, per_page: int) -> Page:
    """Page ``page`` of ``stmt``: reads one row more than the page to know if one follows."""
    rows = (
        db.session.execute(
            stmt.options(joinedload(Campaign.target_brand), *_NOT_LISTED)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    return Page(items=list(rows[:per_page]), page=page, has_next=len(rows) > per_page)


# ---------------------------------------------------------------------------- the form


def similar_open_campaigns(
    brand_id: int, title: str, exclude_id: int | None = None, limit: int = 5
) -> list[Campaign]:
    """Open campaigns of any kind to ``brand_id`` (or a brand it owns) sharing any word of
    ``title``, best first: shown while an organiser writes, so support is not split."""
    brand = db.session.get(Brand, brand_id)
    words = [w for w in WORD.findall(title.lower()) if len(w) >= 3][:10]
    if brand is None or not words:
        return []
    query = " or ".join(words)
    stmt = select(Campaign).where(
        Campaign.state == CampaignState.OPEN, Campaign.target_brand_id.in_(brand_group_ids(brand))
    )
    if exclude_id:
        stmt = stmt.where(Campaign.id != exclude_id)
    stmt, _ = search(stmt, query, window=limit)
    return list(db.session.execute(stmt.limit(limit)).scalars())


def find_brands(query: str, limit: int = 10) -> list[Brand]:
    """Approved brands whose name contains ``query``, or is a letter or two away from it
    (PostgreSQL: ``pg_trgm``'s word similarity; SQLite: a word of the query in no title or
    brand name also read as the closest listed word), names starting with it first."""
    query = " ".join(query.split())[:MAX_QUERY]
    if not query:
        return []
    lowered = func.lower(Brand.name)
    contains = lowered.like(like_pattern(query.lower()), escape="\\")
    starts = lowered.like(like_pattern(query.lower())[1:], escape="\\")
    condition, closeness = contains, case((starts, 2), (contains, 1), else_=0)
    if _is_postgresql():
        condition = or_(contains, literal(query).op("<%")(Brand.name))
        closeness = closeness + func.word_similarity(query, Brand.name)
    else:
        words = [w for w in query.lower().split() if len(w) >= 3 and w.isalpha()]
        also = _sqlite_listed_words_for(words) if words else {}
        # A listed word is one of a name's words as listed (lower case, without accents).
        for word in also.values():
            listed = func.search_words_of(Brand.name).contains(json.dumps(word), autoescape=True)
            condition = or_(condition, listed)
            closeness = closeness + case((listed, 1), else_=0)
    stmt = (
        select(Brand)
        .where(Brand.approved_at.is_not(None), condition)
        .order_by(closeness.desc(), Brand.name)
        .limit(limit)
    )
    return list(db.session.execute(stmt).scalars())


def brand_group_label(brand: Brand) -> str | None:
    """The name of the group that owns ``brand`` (its top owner), if any."""
    owners = brand.ancestors()
    return owners[-1].name if owners else None


MAX_PAGE = 10_000


def page_number() -> int:
    """The ``page`` query argument, clamped to 1..MAX_PAGE (junk reads as 1)."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
