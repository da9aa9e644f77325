"""User Markdown to safe HTML: markdown-it-py renders, nh3 keeps only harmless tags."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML is off in the parser, and nh3 strips whatever else could run or track. Bare web
# and email addresses become links (linkify-it-py), then go through the same sanitising.
_md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": True}).enable(
    ["table", "strikethrough", "linkify"]
)
_ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h2", "h3", "h4", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(text: str | None) -> Markup:
    """Render ``text`` as sanitised HTML safe to put in a page.

    Bare addresses (``example.org/page``, ``someone@example.org``) become links. Links get
    ``rel="nofollow noopener ugc"``; only http(s) and mailto links survive;
    images, scripts, styles and event attributes never do.
    """
    if not text:
        return Markup("")
    html = _md.render(text)
    # Page titles are h1; user headings start at h2.
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener ugc",
    )
    return Markup(clean)
