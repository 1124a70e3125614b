"""A tiny document model and its two renderings, Markdown and self-contained HTML.

The report is built once as a list of blocks (:class:`Heading`, :class:`Para`, :class:`Bullets`,
:class:`Table`, :class:`Image`, :class:`Box`) and rendered twice, so report.md and report.html always say the
same. Inline markup in text: ``**bold**`` and ```code``` (rendered as such in HTML; plain Markdown otherwise).
A table cell may be a list of lines (several condition groups).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

Cell = str | list[str]


@dataclass(frozen=True)
class Heading:
    """A section heading, ``level`` 1-4."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    """A paragraph of text (inline ``**bold**`` and ```code``` allowed)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: list[str]


@dataclass(frozen=True)
class Table:
    """A table: header cells and rows (each a list of cells), with an optional caption above it."""

    header: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A picture by relative path (a PNG beside the report)."""

    path: str
    alt: str


@dataclass(frozen=True)
class Box:
    """A framed box (``kind`` "warning" or "note") holding other blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    kind: str = "warning"


Block = Heading | Para | Bullets | Table | Image | Box


# ---------------------------------------------------------------- Markdown


def _md_cell(cell: Cell) -> str:
    lines = cell if isinstance(cell, list) else [cell]
    return "<br>".join(line.replace("|", "\\|").replace("\n", " ") for line in lines)


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text, ""]
    if isinstance(block, Para):
        return [block.text, ""]
    if isinstance(block, Bullets):
        return [f"- {item}" for item in block.items] + [""]
    if isinstance(block, Table):
        out = [f"*{block.caption}*", ""] if block.caption else []
        out.append("| " + " | ".join(_md_cell(c) for c in block.header) + " |")
        out.append("|" + "|".join("---" for _ in block.header) + "|")
        out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
        return out + [""]
    if isinstance(block, Image):
        return [f"![{block.alt}]({block.path})", ""]
    if isinstance(block, Box):
        icon = "⚠️ " if block.kind == "warning" else ""
        inner = [f"**{icon}{block.title}**", ""] + [line for b in block.blocks for line in _md_block(b)]
        while inner and not inner[-1]:
            inner.pop()
        return [f"> {line}" if line else ">" for line in inner] + [""]
    raise TypeError(f"not a block: {block!r}")


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured Markdown (ends with one newline)."""
    lines = [line for b in blocks for line in _md_block(b)]
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .1em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 92%; }
th, td { border: 1px solid #bbb; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; font-size: 90%; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
.box { border: 3px solid #c62828; background: #fff3f3; padding: .6em 1.2em; margin: 1em 0; border-radius: 6px; }
.box.note { border-color: #1565c0; background: #f0f6ff; }
.box-title { font-weight: bold; font-size: 115%; }
"""


def _inline(text: str) -> str:
    """Escape ``text`` for HTML and turn ``**bold**`` and ```code``` into tags."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _html_cell(cell: Cell, tag: str) -> str:
    lines = cell if isinstance(cell, list) else [cell]
    return f"<{tag}>" + "<br>".join(_inline(line) for line in lines) + f"</{tag}>"


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{_inline(i)}</li>" for i in block.items) + "\n</ul>"
    if isinstance(block, Table):
        caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
        head = "<tr>" + "".join(_html_cell(c, "th") for c in block.header) + "</tr>"
        body = "\n".join("<tr>" + "".join(_html_cell(c, "td") for c in row) + "</tr>" for row in block.rows)
        return f"<table>{caption}\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    if isinstance(block, Image):
        return f'<p><img src="{html.escape(block.path)}" alt="{html.escape(block.alt)}"></p>'
    if isinstance(block, Box):
        inner = "\n".join(_html_block(b) for b in block.blocks)
        return (f'<div class="box {block.kind}">\n<p class="box-title">{_inline(block.title)}</p>\n'
                f"{inner}\n</div>")
    raise TypeError(f"not a block: {block!r}")


def to_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (inline CSS; images by relative path)."""
    body = "\n".join(_html_block(b) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
