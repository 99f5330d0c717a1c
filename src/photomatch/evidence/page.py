"""``report.html``: one static page a reviewer reads on a laptop or prints to PDF.

No script, no font or style from elsewhere, no link out: a Content-Security-Policy forbids
everything but the inline style (pinned by its hash) and the pictures beside the page. Every
text that came from outside (file names, messages, labels) is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

STYLE = """
:root { --ink: #1b1b1f; --muted: #5b5b66; --line: #d9d9e0; --accent: #e40066; --warn: #8a4b00;
        --warnbg: #fff4e0; --bg: #f6f6f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 17px; margin: 0; }
.sub { color: var(--muted); margin: 0 0 16px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px;
              overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; white-space: nowrap; width: 1%; }
td { overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.counts { display: grid; grid-template-columns: repeat(auto-fill, minmax(128px, 1fr)); gap: 10px; margin: 12px 0; }
.count { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.count b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.count span { color: var(--muted); font-size: 13px; }
.group { margin-top: 34px; }
.ghead { display: flex; gap: 16px; align-items: center; background: #fff; border: 1px solid var(--line);
         border-left: 6px solid var(--ink); border-radius: 8px; padding: 12px 16px; break-inside: avoid; }
.ghead img { height: 96px; width: auto; border: 1px solid var(--line); border-radius: 4px; }
.ghead .missing { width: 96px; height: 96px; display: flex; align-items: center; justify-content: center;
                  text-align: center; font-size: 12px; color: var(--muted); border: 1px dashed var(--muted);
                  border-radius: 4px; padding: 4px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; padding: 14px 16px;
        break-inside: avoid; page-break-inside: avoid;
        content-visibility: auto; contain-intrinsic-size: auto 560px; }  /* off-screen cards wait: fast open */
.card header { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; flex-wrap: wrap;
               margin-bottom: 10px; }
.card header .n { color: var(--muted); font-size: 13px; }
.body { display: grid; grid-template-columns: minmax(0, auto) minmax(280px, 1fr); gap: 20px; align-items: start; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 0 22px; margin: 12px 0 0;
         padding-top: 8px; border-top: 1px solid var(--line); }
.facts div { display: flex; gap: 10px; padding: 3px 0; border-bottom: 1px solid var(--line); }
.facts dt { color: var(--muted); font-weight: 600; flex: 0 0 92px; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
figure { margin: 0; }
.pics { display: flex; gap: 16px; align-items: center; }
.pics img { display: block; max-width: 100%; min-width: 0; height: auto; border-radius: 4px; }
.unshown { flex: 0 0 220px; min-height: 120px; border: 1px dashed var(--muted); border-radius: 6px; padding: 10px;
           color: var(--muted); font-size: 13px; }
.unshown b { color: var(--ink); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
blockquote { margin: 4px 0 0; padding: 6px 10px; background: var(--bg); border-left: 3px solid var(--line);
             white-space: pre-wrap; overflow-wrap: anywhere; }
.flag { display: inline-block; font-size: 12px; font-weight: 700; padding: 1px 8px; border-radius: 10px;
        background: var(--warnbg); color: var(--warn); border: 1px solid #f0c78a; margin-left: 6px; }
.ok { background: #e8f6ee; color: #0b6b3a; border-color: #9fd8b8; }
.warn { background: var(--warnbg); border: 1px solid #f0c78a; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.toc td a { color: inherit; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media (max-width: 1000px) { .body { grid-template-columns: 1fr; } }
@media (max-width: 640px) { .pics { flex-wrap: wrap; } }
@media print {
  @page { size: A4; margin: 12mm 11mm; }
  body { background: #fff; font-size: 9.5pt; }
  main { max-width: none; padding: 0; }
  .card, .ghead, .count, .panel { border-color: #bbb; }
  .group { margin-top: 16px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .card { padding: 10px 12px; margin: 10px 0; }
  .body { grid-template-columns: 60% 1fr; gap: 12px; }
  .ghead { break-after: avoid; page-break-after: avoid; }
  .pics { gap: 8px; flex-wrap: wrap; }
  .unshown { flex: 1 1 100%; min-height: 0; }
  th, td, .facts div { padding-top: 2px; padding-bottom: 2px; }
  .facts { grid-template-columns: 1fr 1fr 1fr; gap: 0 14px; }
  .facts dt { flex-basis: 74px; }
  code, .mono { font-size: 8pt; }
  .toc a { text-decoration: none; }
}
"""


@dataclass
class Card:
    anchor: str
    title: str
    subtitle: str
    picture: str | None  # path relative to the page
    picture_size: tuple[int, int] | None
    caption: str
    unshown: str | None  # why the reported picture is not beside the query (HTML)
    rows_left: list[tuple[str, str]]  # (label, HTML)
    rows_right: list[tuple[str, str]]
    flags: list[str] = field(default_factory=list)


@dataclass
class Group:
    item_id: int
    label: str | None
    source: str | None
    picture: str | None
    picture_size: tuple[int, int] | None
    note: str
    flood: bool
    cards: list[Card]
    chats: int


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _img(src: str, size: tuple[int, int] | None, alt: str) -> str:
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    # lazy: a page of 1,000 cards opens at once, pictures load as they scroll in (and for print)
    return f'<img src="{e(src)}"{dims} alt="{e(alt)}" loading="lazy" decoding="async">'


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in rows) + "</dl>"


def _card(c: Card) -> str:
    flags = "".join(f'<span class="flag">{e(f)}</span>' for f in c.flags)
    pics = _img(c.picture, c.picture_size, "query (left) and reported picture") if c.picture else ""
    if c.unshown:
        pics += f'<div class="unshown">{c.unshown}</div>'
    return (
        f'<article class="card" id="{e(c.anchor)}">'
        f'<header><h3>{e(c.title)}{flags}</h3><span class="n">{e(c.subtitle)}</span></header>'
        f'<div class="body"><figure><div class="pics">{pics}</div><figcaption>{e(c.caption)}</figcaption></figure>'
        f"<div>{_rows(c.rows_left)}</div></div>{_facts(c.rows_right)}"
        "</article>"
    )


def _group(g: Group) -> str:
    name = f"Reported item #{g.item_id}" + (f" — {g.label}" if g.label else "")
    pic = _img(g.picture, g.picture_size, f"reported item {g.item_id}") if g.picture else \
        f'<div class="missing">not shown</div>'
    n = len(g.cards)
    count = f"{n} match{'es' if n != 1 else ''}" + (f" in {g.chats} chat{'s' if g.chats != 1 else ''}" if g.chats else "")
    flood = ('<p class="warn"><b>Flood:</b> this reported picture matches an unusual share of the scanned media. '
             "A low-information picture (a blank frame, a logo) can match almost anything: check each match by eye."
             "</p>") if g.flood else ""
    source = f'<div class="sub mono">{e(g.source)}</div>' if g.source else ""
    return (
        f'<section class="group" id="item-{g.item_id}"><div class="ghead">{pic}<div>'
        f"<h3>{e(name)}</h3><div>{e(count)}</div>{source}<div class=\"sub\">{g.note}</div></div></div>{flood}"
        + "".join(_card(c) for c in g.cards) + "</section>"
    )


def render(*, title: str, subtitle: str, summary_rows: Sequence[tuple[str, str]], counts: Sequence[tuple[str, Any]],
           extra: Iterable[tuple[str, str]], groups: Sequence[Group], ignored_rows: Sequence[Sequence[str]],
           footer: str) -> str:
    """The page: all arguments are plain text except ``*_rows`` values and ``extra``, which are HTML."""
    style_hash = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    csp = f"default-src 'none'; img-src 'self' file: data:; style-src 'sha256-{style_hash}'; form-action 'none'"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{e(title)}</h1><p class=\"sub\">{e(subtitle)}</p>",
        '<div class="counts">' + "".join(f'<div class="count"><b>{e(v)}</b><span>{e(k)}</span></div>'
                                         for k, v in counts) + "</div>",
        f'<div class="panel">{_rows(summary_rows)}</div>',
    ]
    out.extend(f"<h2>{e(h)}</h2>{body}" for h, body in extra)
    if groups:
        flood = '<span class="flag">flood</span>'
        toc = "".join(
            f'<tr><td><a href="#item-{g.item_id}">#{g.item_id}</a></td><td>{e(g.label)}</td>'
            f'<td class="num">{len(g.cards)}</td><td>{flood if g.flood else ""}</td></tr>'
            for g in groups)
        out.append("<h2>Matches by reported item</h2><div class=\"panel\"><table class=\"toc\"><tr><th>Item</th>"
                   f"<th>Label</th><th class=\"num\">Matches</th><th></th></tr>{toc}</table></div>")
        out.extend(_group(g) for g in groups)
    else:
        out.append("<h2>Matches</h2><p>No scanned picture matched a reported item.</p>")
    if ignored_rows:
        head = "".join(f"<th>{e(h)}</th>" for h in ("Query", "Message", "Reported item", "Reason"))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in ignored_rows)
        out.append(f"<h2>Ignored ({len(ignored_rows)})</h2><p class=\"sub\">Matches of pictures marked as known-benign "
                   f"(<code>photomatch ignore</code>): not counted as matches.</p>"
                   f"<div class=\"panel\"><table><tr>{head}</tr>{body}</table></div>")
    out.append(f"<footer>{footer}</footer></main></body></html>\n")
    return "\n".join(out)
