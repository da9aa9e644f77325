"""Finding campaigns: full-text search, filters and sorts, shared by browse, the API, the
topic pages and the campaign form (similar campaigns, the brand picker).

The query language is PostgreSQL's ``websearch_to_tsquery`` on both engines: words (all
must match, in any order and any form of the word), ``"quoted phrases"``, ``-exclusions``
and ``or`` between two terms. PostgreSQL runs it on the ``tsvector`` index, SQLite on FTS5
(see :mod:`campaign.models.search_index`); both rank by relevance, then momentum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import request
from markupsafe import Markup, escape
from sqlalchemy import (
    Float,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import selectinload

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
from campaign.models.search_index import WORD, english_stem, spanish_stem

#: The longest query read (longer ones are cut).
MAX_QUERY = 100
#: Queries of at most this many words also match titles and brand names by similarity of
#: letters (PostgreSQL's pg_trgm), so a typo still finds them.
TYPO_WORDS = 2


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


def fts5_query(parsed: ParsedQuery) -> str | None:
    """The FTS5 MATCH expression of the groups (None when there are none)."""
    if not parsed.groups:
        return None
    return " AND ".join(_fts5_any(group) for group in parsed.groups)


def _fts5_hits(match: str, ranked: bool):
    score = "bm25(campaign_search, 10.0, 10.0, 4.0, 1.0)" if ranked else "0.0"
    return (
        text(
            f"SELECT rowid AS campaign_id, {score} AS score FROM campaign_search "
            "WHERE campaign_search MATCH :match"
        )
        .bindparams(bindparam("match", match, unique=True))
        .columns(campaign_id=Integer, score=Float)
    )


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _postgresql_match(query: str, parsed: ParsedQuery):
    """(condition, relevance) on the tsvector index, and trigrams for short queries."""
    vector = literal_column("campaigns.search_vector")
    english = func.websearch_to_tsquery(literal_column("'groundswell_english'::regconfig"), query)
    spanish = func.websearch_to_tsquery(literal_column("'groundswell_spanish'::regconfig"), query)
    spanish_campaign = Campaign.language == "es"
    # Two index scans OR-ed: each campaign is matched in its own language's configuration.
    condition = or_(
        and_(spanish_campaign, vector.op("@@")(spanish)), and_(~spanish_campaign, vector.op("@@")(english))
    )
    relevance = case((spanish_campaign, func.ts_rank(vector, spanish)), else_=func.ts_rank(vector, english))
    words = sorted(parsed.words, key=query.lower().find)
    if (
        not parsed.excluded
        and len(parsed.groups) == len(words) <= TYPO_WORDS
        and all(len(w) >= 3 and w.isalpha() for w in words)
    ):
        # Each word like a word of the title or of the brand's name (trigram indexes).
        # "= ANY(array of ids)" from an uncorrelated subquery: an index condition, so the
        # whole OR stays a BitmapOr of index scans instead of a scan of every campaign.
        condition = or_(
            condition,
            and_(
                *(
                    or_(
                        literal(w).op("<%")(Campaign.title),
                        Campaign.target_brand_id
                        == any_(
                            func.coalesce(
                                select(func.array_agg(Brand.id))
                                .where(literal(w).op("<%")(Brand.name))
                                .scalar_subquery(),
                                literal_column("'{}'::integer[]"),
                            )
                        ),
                    )
                    for w in words
                )
            ),
        )
        for w in words:
            relevance = relevance + 0.1 * func.word_similarity(w, Campaign.title)
    return condition, relevance


def matching_text(stmt: Select, query: str) -> Select:
    """Narrow ``stmt`` (a select of campaigns) to those matching ``query``, best first (then
    by momentum). An empty query, or one of only exclusions, narrows by exclusions only."""
    stmt, _ = search(stmt, query)
    return stmt


def search(stmt: Select, query: str, *, order: bool = True) -> tuple[Select, bool]:
    """``stmt`` narrowed to ``query``, ordered best first when ``order``; and whether any
    word narrowed it."""
    parsed = parse_query(query)
    if not parsed.groups and not parsed.excluded:
        return stmt, False
    if _is_postgresql():
        # With only exclusions, websearch_to_tsquery gives "!a": every campaign but those.
        condition, relevance = _postgresql_match(query, parsed)
        stmt = stmt.where(condition)
        if order and parsed.groups:
            stmt = stmt.order_by(relevance.desc(), Campaign.momentum.desc(), Campaign.id.desc())
        return stmt, True
    positive = fts5_query(parsed)
    if parsed.excluded:
        excluded = _fts5_hits(_fts5_any(parsed.excluded), ranked=False).subquery()
        stmt = stmt.where(Campaign.id.not_in(select(excluded.c.campaign_id)))
    if positive is None:
        return stmt, True
    hits = _fts5_hits(positive, ranked=order).subquery("hits")
    stmt = stmt.join(hits, hits.c.campaign_id == Campaign.id)
    if order:  # bm25 is better when lower
        stmt = stmt.order_by(hits.c.score, Campaign.momentum.desc(), Campaign.id.desc())
    return stmt, True


def highlight(value: str, query: str) -> Markup:
    """``value`` escaped, with the words ``query`` asks for (in any form) in ``<mark>``."""
    parsed = parse_query(query)
    wanted = set()
    for word in parsed.words:
        wanted |= {word, english_stem(word), spanish_stem(word)}
    if not wanted:
        return escape(value)
    out, last = [], 0
    for match in WORD.finditer(value):
        word = match.group().lower()
        if word in wanted or english_stem(word) in wanted or spanish_stem(word) in wanted:
            out.append(escape(value[last : match.start()]))
            out.append(Markup("<mark>%s</mark>") % match.group())
            last = match.end()
    out.append(escape(value[last:]))
    return Markup("").join(out)


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


def brand_group_ids(brand: Brand) -> list[int]:
    """The brand and every brand it owns, however deep."""
    return [brand.id, *(b.id for b in brand.descendants())]


def campaigns_statement(filters: Filters) -> Select:
    """Public campaigns matching ``filters``, in the order asked for."""
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
    stmt, searched = search(stmt, filters.query, order=sort is None)
    if searched and sort is None:
        return stmt
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


def page_of(stmt: Select, page: int, per_page: int) -> Page:
    """Page ``page`` of ``stmt``: reads one row more than the page to know if one follows."""
    rows = (
        db.session.execute(
            stmt.options(selectinload(Campaign.target_brand))
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
    stmt, _ = search(stmt, query)
    return list(db.session.execute(stmt.limit(limit)).scalars())


def find_brands(query: str, limit: int = 10) -> list[Brand]:
    """Approved brands whose name contains ``query`` (on PostgreSQL also those a letter or
    two away), names starting with it first."""
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
