"""What a person reads on a page: the text of an element, found by ``#id`` or ``.class``, with
its whitespace collapsed as a browser shows it. For tests that assert what the user sees."""

import re
from html.parser import HTMLParser

# Elements a browser sets apart from their neighbours (cells, rows, blocks): a space between.
APART = {"td", "th", "tr", "p", "div", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "table", "caption", "dd", "dt"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Finder(HTMLParser):
    def __init__(self, selector: str):
        super().__init__(convert_charrefs=True)
        self.attribute, self.value = ("id", selector[1:]) if selector.startswith("#") else ("class", selector[1:])
        self.depth = 0  # inside the element found: how deep
        self.found: list[list[str]] = []

    def matches(self, attrs) -> bool:
        value = dict(attrs).get(self.attribute) or ""
        return value == self.value if self.attribute == "id" else self.value in value.split()

    def handle_starttag(self, tag, attrs):
        if self.depth and tag in APART:
            self.found[-1].append(" ")
        if tag in VOID:
            return
        if self.depth:
            self.depth += 1
        elif self.matches(attrs):
            self.depth = 1
            self.found.append([])

    def handle_endtag(self, tag):
        if self.depth and tag in APART:
            self.found[-1].append(" ")
        if self.depth and tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.found[-1].append(data)


def texts_of(page, selector: str) -> list[str]:
    """The text of every element ``selector`` (``#id`` or ``.class``) names, in page order.
    ``page`` is HTML, or a response whose content is."""
    html = page if isinstance(page, str) else page.content.decode()
    finder = _Finder(selector)
    finder.feed(html)
    return [re.sub(r"\s+", " ", "".join(parts)).strip() for parts in finder.found]


def text_of(page, selector: str) -> str:
    """The text of the first element ``selector`` names (``AssertionError`` if none)."""
    found = texts_of(page, selector)
    assert found, f"nothing on the page matches {selector}"
    return found[0]
