"""What a Markdown viewer that renders raw HTML (GitHub-like: CommonMark with HTML and tables) would make
of a document: the HTML elements and attributes it would create. Used to prove user text stays inert."""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt

SAFE_TAGS = {"h1", "h2", "h3", "p", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
             "strong", "em", "br", "hr", "a"}
"""Elements our own Markdown produces (`a` only for plain https URLs GitHub links)."""


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def viewer_html(md: str) -> str:
    """The HTML a raw-HTML-enabled CommonMark viewer renders from `md`."""
    return MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").render(md)


def unsafe_elements(md: str) -> list[tuple[str, dict]]:
    """Elements a viewer would create from `md` that our Markdown never writes: foreign tags, event-handler
    attributes, or links that are not http(s)."""
    p = _Tags()
    p.feed(viewer_html(md))
    return [(t, a) for t, a in p.tags if t not in SAFE_TAGS or any(k.startswith("on") for k in a)
            or (t == "a" and not str(a.get("href", "")).startswith(("http://", "https://")))]


def headings(md: str, level: int = 1) -> list[str]:
    """The text of every heading of `level` a viewer would show."""
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == f"h{level}"]


def fences(md: str) -> list[str]:
    """The content of every fenced code block a viewer would show."""
    return [t.content for t in MarkdownIt("commonmark").parse(md) if t.type == "fence"]

