"""Sphinx extension for the trio_zookeeper docs: generated content that cannot drift.

Directives:

``.. session-state-diagram::``
    An SVG diagram of the session state machine, drawn at build time from
    :data:`trio_zookeeper._protocol._state.TRANSITIONS` (no Graphviz needed:
    the layout is hand-placed below, the arrows come from the table). A state
    that appears in the table but has no place in :data:`STATE_LAYOUT` fails
    the build, so a new state cannot be silently left out.

``.. session-state-table::``
    The same table as a state x event matrix, plus what each event means.

``.. exception-tree::``
    The hierarchy of every exception in ``trio_zookeeper.__all__``.

``.. markdown-include:: path``
    A Markdown file (the changelog, the benchmark results) rendered through a
    small, warning-free Markdown subset converter (no extra dependency).

``.. only-if-exists:: path`` / ``.. only-if-missing:: path``
    Parse the directive's content only when ``path`` (relative to the docs
    source directory) exists, or only when it does not: the performance page
    shows the benchmark results once ``scripts/run bench`` has produced them.

Events:

``missing-reference``
    Autodoc renders annotations with the defining module
    (``trio_zookeeper._protocol._records.Stat``). The modules behind the
    public namespaces are private, so such a reference is resolved to the
    public name of the same object (``trio_zookeeper.Stat``).

``autodoc-before-process-signature``
    A module's ``if TYPE_CHECKING:`` imports are run in its namespace before
    autodoc evaluates its annotations (names of modules loaded on first use).

``autodoc-process-signature``
    For ``@asynccontextmanager`` functions (rendered by sphinxcontrib-trio as
    ``async with f(...) as x``) the ``-> AsyncIterator[X]`` annotation is
    dropped: it describes the generator, not what the block receives, which
    the docstring's ``Yields:`` section states.
"""

from __future__ import annotations

import html
import importlib
import inspect
import math
import pathlib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, ParamSpec, TypeVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

#: The public namespaces, most specific first.
PUBLIC_MODULES = ("trio_zookeeper.testing", "trio_zookeeper.recipes", "trio_zookeeper")

# ============================================================ state diagram
#: Centre (x, y) of each state's box, in SVG pixels. Every state of the
#: transition table must have a place here (else the build fails).
STATE_LAYOUT: dict[str, tuple[float, float]] = {
    "DISCONNECTED": (200, 250),
    "SYNC_CONNECTED": (500, 70),
    "CONNECTED_READ_ONLY": (500, 430),
    "EXPIRED": (500, 250),
    "AUTH_FAILED": (830, 250),
    "CLOSED": (830, 530),
}
#: Where the single arrow of an event that leads *every* state to the same
#: state starts (CLOSE: every state -> CLOSED), as (x, y) of its label.
BUNDLE_ORIGIN = (520, 530)
#: The state a client starts in (``open_zookeeper`` makes the session DISCONNECTED
#: until the first connection; the state module's docstring says so).
INITIAL_STATE = "DISCONNECTED"
#: Per-arrow drawing hints, keyed by (from state, event): ``bend`` pushes the
#: curve's control point that many pixels to the left of the direction of
#: travel; ``t`` places the label along the curve (0..1); ``dx``/``dy`` nudge
#: it; ``side`` places a self-loop. Arrows without hints are straight.
EDGE_HINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("DISCONNECTED", "CONNECTED_RW"): {"bend": 40, "t": 0.4},
    ("SYNC_CONNECTED", "CONNECTION_LOST"): {"bend": 40, "t": 0.6},
    ("DISCONNECTED", "CONNECTED_RO"): {"bend": 40, "t": 0.4},
    ("CONNECTED_READ_ONLY", "CONNECTION_LOST"): {"bend": 40, "t": 0.6},
    ("DISCONNECTED", "CONNECTION_LOST"): {"side": "left"},
    ("DISCONNECTED", "EXPIRED"): {"bend": 22, "t": 0.5},
    ("EXPIRED", "NEW_SESSION"): {"bend": 22, "t": 0.5},
    ("SYNC_CONNECTED", "EXPIRED"): {"t": 0.45},
    ("CONNECTED_READ_ONLY", "EXPIRED"): {"t": 0.45},
    ("SYNC_CONNECTED", "AUTH_FAILED"): {"t": 0.5},
    ("CONNECTED_READ_ONLY", "AUTH_FAILED"): {"t": 0.5},
    ("DISCONNECTED", "AUTH_FAILED"): {"bend": 100, "t": 0.62},
}
#: Fill colours by kind of state.
STATE_COLOURS = {
    "SYNC_CONNECTED": "#d8f0d8",
    "CONNECTED_READ_ONLY": "#e4f2d0",
    "DISCONNECTED": "#fff2c8",
    "EXPIRED": "#fde0c8",
    "AUTH_FAILED": "#f8d0d0",
    "CLOSED": "#e4e4e4",
}
_BOX_H = 40.0
_FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"


def _box_half_width(name: str) -> float:
    return max(150.0, 8.2 * len(name) + 28) / 2


def _clip(cx: float, cy: float, dx: float, dy: float, hw: float, hh: float) -> tuple[float, float]:
    """Where the ray from (cx, cy) along (dx, dy) leaves the box of half sizes hw, hh."""
    scale = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _label(x: float, y: float, text: str, *, colour: str = "#333") -> list[str]:
    width = 6.6 * len(text) + 8
    return [
        f'<rect x="{x - width / 2:.1f}" y="{y - 8:.1f}" width="{width:.1f}" height="16" '
        'rx="3" fill="white" fill-opacity="0.92"/>',
        f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" '
        f'fill="{colour}">{html.escape(text)}</text>',
    ]


def _arrow(x0: float, y0: float, cx: float, cy: float, x1: float, y1: float) -> str:
    return (
        f'<path d="M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x1:.1f},{y1:.1f}" fill="none" '
        'stroke="#333" stroke-width="1.5" marker-end="url(#tzk-arrow)"/>'
    )


def render_state_svg(transitions: dict[tuple[Any, Any], Any], initial: str) -> str:
    """Draw the transition table as an SVG document (a string).

    An event that takes *every* state to the same state (CLOSE) is drawn as
    one arrow from "every state"; every other transition is its own arrow.
    """
    states = sorted({s.name for (s, _) in transitions} | {t.name for t in transitions.values()})
    missing = [s for s in states if s not in STATE_LAYOUT]
    if missing:
        raise ExtensionError(
            f"docs/_ext/tzk_docs.py: the session state table has states {missing} that "
            "STATE_LAYOUT does not place; give them a position"
        )
    sources: dict[tuple[str, str], set[str]] = {}
    for (source, event), target in transitions.items():
        sources.setdefault((event.name, target.name), set()).add(source.name)
    bundles = {key for key, names in sources.items() if names == set(states)}
    width, height = 1000, 600
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" font-family="{_FONT}" role="img" '
        'aria-labelledby="tzk-state-title">',
        '<title id="tzk-state-title">The trio_zookeeper session state machine, '
        "generated from trio_zookeeper._protocol._state.TRANSITIONS</title>",
        "<defs>",
        '<marker id="tzk-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#333"/></marker>',
        "</defs>",
    ]
    labels: list[str] = []
    for (source, event), target in transitions.items():
        if (event.name, target.name) in bundles:
            continue
        hints = EDGE_HINTS.get((source.name, event.name), {})
        sx, sy = STATE_LAYOUT[source.name]
        hw, hh = _box_half_width(source.name), _BOX_H / 2
        if source is target:
            side = hints.get("side", "top")
            sign = -1 if side in ("left", "top") else 1
            if side in ("left", "right"):
                ax = sx + sign * hw
                path = (
                    f"M{ax:.1f},{sy - 8:.1f} C{ax + sign * 60:.1f},{sy - 40:.1f} "
                    f"{ax + sign * 60:.1f},{sy + 40:.1f} {ax:.1f},{sy + 8:.1f}"
                )
                lx, ly = ax + sign * 30, sy + 46
            else:
                ay = sy + sign * hh
                path = (
                    f"M{sx - 10:.1f},{ay:.1f} C{sx - 40:.1f},{ay + sign * 55:.1f} "
                    f"{sx + 40:.1f},{ay + sign * 55:.1f} {sx + 10:.1f},{ay:.1f}"
                )
                lx, ly = sx, ay + sign * 52
            out.append(
                f'<path d="{path}" fill="none" stroke="#333" stroke-width="1.5" '
                'marker-end="url(#tzk-arrow)"/>'
            )
            labels += _label(lx + hints.get("dx", 0), ly + hints.get("dy", 0), event.name)
            continue
        tx, ty = STATE_LAYOUT[target.name]
        thw = _box_half_width(target.name)
        dx, dy = tx - sx, ty - sy
        length = math.hypot(dx, dy)
        nx, ny = dy / length, -dx / length  # the left normal in SVG coordinates (y down)
        bend = float(hints.get("bend", 0))
        cx, cy = (sx + tx) / 2 + nx * bend, (sy + ty) / 2 + ny * bend
        x0, y0 = _clip(sx, sy, cx - sx, cy - sy, hw, hh)
        x1, y1 = _clip(tx, ty, cx - tx, cy - ty, thw, _BOX_H / 2)
        out.append(_arrow(x0, y0, cx, cy, x1, y1))
        t = float(hints.get("t", 0.5))
        lx = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1
        ly = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1
        labels += _label(lx + hints.get("dx", 0), ly + hints.get("dy", 0), event.name)
    for event_name, target_name in sorted(bundles):
        bx, by = BUNDLE_ORIGIN
        tx, ty = STATE_LAYOUT[target_name]
        text = "every state"
        out.append(
            f'<text x="{bx:.1f}" y="{by + 5:.1f}" text-anchor="middle" font-size="14" '
            f'font-style="italic" fill="#333">{text}</text>'
        )
        x0 = bx + 7.5 * len(text) / 2 + 6
        x1 = tx - _box_half_width(target_name)
        out.append(_arrow(x0, by, (x0 + x1) / 2, (by + ty) / 2, x1, ty))
        labels += _label((x0 + x1) / 2, (by + ty) / 2 - 14, event_name)
    # The start: a dot and an arrow into the initial state.
    ix, iy = STATE_LAYOUT[initial]
    top = iy - _BOX_H / 2
    out.append(f'<circle cx="{ix:.1f}" cy="{top - 70:.1f}" r="6" fill="#333"/>')
    out.append(
        f'<path d="M{ix:.1f},{top - 64:.1f} L{ix:.1f},{top:.1f}" stroke="#333" '
        'stroke-width="1.5" marker-end="url(#tzk-arrow)"/>'
    )
    labels += _label(ix - 70, top - 70, "open_zookeeper()")
    for name in states:
        x, y = STATE_LAYOUT[name]
        hw = _box_half_width(name)
        out.append(
            f'<rect x="{x - hw:.1f}" y="{y - _BOX_H / 2:.1f}" width="{2 * hw:.1f}" '
            f'height="{_BOX_H:.1f}" rx="10" fill="{STATE_COLOURS.get(name, "#eef")}" '
            'stroke="#333" stroke-width="1.5"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" font-size="14" '
            f'font-weight="bold" fill="#111">{html.escape(name)}</text>'
        )
    out += labels
    out.append("</svg>")
    return "\n".join(out)


def _state_table() -> tuple[dict[tuple[Any, Any], Any], type[Any], type[Any]]:
    state_module = importlib.import_module("trio_zookeeper._protocol._state")
    enums = importlib.import_module("trio_zookeeper._protocol._enums")
    return state_module.TRANSITIONS, state_module.SessionEvent, enums.KeeperState


class SessionStateDiagram(SphinxDirective):
    """Insert the generated SVG state diagram."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        transitions, _, _ = _state_table()
        self.env.note_dependency(_source_of("trio_zookeeper._protocol._state"))
        self.env.note_dependency(__file__)
        svg = render_state_svg(transitions, INITIAL_STATE)
        container = nodes.container(classes=["tzk-state-diagram"])
        container += nodes.raw("", svg, format="html")
        return [container]


class SessionStateTable(SphinxDirective):
    """Insert the transition table as a state x event matrix, and the events' meanings."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        transitions, session_event, _ = _state_table()
        self.env.note_dependency(_source_of("trio_zookeeper._protocol._state"))
        states = [s for s in STATE_LAYOUT if any(s == k.name for k, _ in transitions)]
        events = list(session_event.__members__.values())
        by_name = {(s.name, e.name): t.name for (s, e), t in transitions.items()}
        lines = [
            ".. list-table:: The next state, by current state (rows) and event (columns)",
            "   :header-rows: 1",
            "   :stub-columns: 1",
            "   :class: tzk-state-table",
            "",
            "   * - state \\\\ event",
        ]
        lines += [f"     - ``{e.name}``" for e in events]
        for state in states:
            lines.append(f"   * - ``{state}``")
            for event in events:
                target = by_name.get((state, event.name))
                lines.append(f"     - {target}" if target else "     - \u2013")
        lines += [
            "",
            "A dash marks a combination that cannot happen: if it ever did, the session "
            "layer would raise ``InvalidTransition`` (a bug) rather than guess.",
            "",
            ".. list-table:: The events",
            "   :header-rows: 1",
            "",
            "   * - event",
            "     - what happened",
        ]
        for event in events:
            lines += [f"   * - ``{event.name}``", f"     - {event.value}"]
        return self.parse_text_to_nodes("\n".join(lines))


def _source_of(module: str) -> str:
    source = inspect.getsourcefile(importlib.import_module(module))
    assert source is not None
    return source


# ============================================================ exception tree
class ExceptionTree(SphinxDirective):
    """A nested list of every exception class in ``trio_zookeeper.__all__``."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        package = importlib.import_module("trio_zookeeper")
        classes = [
            obj
            for name in package.__all__
            if isinstance(obj := getattr(package, name), type) and issubclass(obj, BaseException)
        ]
        members = set(classes)

        def parent(cls: type) -> type | None:
            for base in cls.__mro__[1:]:
                if base in members:
                    return base
            return None

        children: dict[type | None, list[type]] = {}
        for cls in classes:
            children.setdefault(parent(cls), []).append(cls)

        lines: list[str] = []

        def walk(node: type | None, depth: int) -> None:
            for cls in sorted(children.get(node, []), key=lambda c: c.__name__):
                doc = (inspect.getdoc(cls) or "").strip().split("\n")[0]
                indent = "  " * depth
                lines.append(f"{indent}* :exc:`~trio_zookeeper.{cls.__name__}` \u2014 {doc}")
                lines.append("")
                walk(cls, depth + 1)

        walk(None, 0)
        return self.parse_text_to_nodes("\n".join(lines))


# ========================================================= optional content
def _doc_path(directive: SphinxDirective, argument: str) -> pathlib.Path:
    _, absolute = directive.env.relfn2path(argument, directive.env.docname)
    return pathlib.Path(absolute)


class OnlyIfExists(SphinxDirective):
    """Parse the content only if the file exists (``only-if-missing``: only if it does not)."""

    has_content = True
    required_arguments = 1
    want_exists: ClassVar[bool] = True

    def run(self) -> list[nodes.Node]:
        path = _doc_path(self, self.arguments[0])
        self.env.note_dependency(str(path))
        if path.exists() != self.want_exists:
            return []
        return self.parse_content_to_nodes(allow_section_headings=True)


class OnlyIfMissing(OnlyIfExists):
    """Parse the content only if the file does not exist."""

    want_exists = False


# ============================================================ markdown subset
_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|!\[(?P<img_alt>[^\]]*)\]\((?P<img_src>[^)\s]+)\)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<link_url>[^)\s]+)\)"
    r"|\*\*(?P<strong>.+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])"
    r"|<(?P<autolink>https?://[^>\s]+)>"
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?P<marker>[-*+]|\d+[.)])\s+(?P<text>.*)$")
_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")


class MarkdownConverter:
    """Converts a conservative Markdown subset to docutils nodes.

    Headings become rubrics; paragraphs, bullet and numbered lists (nested by
    indentation), pipe tables, fenced code blocks, block quotes, inline code,
    bold, emphasis, links and images are supported. Anything else is kept as
    plain text, so the output never produces a Sphinx warning.
    """

    def __init__(self, resolve_image: Callable[[str], str | None]) -> None:
        self._resolve_image = resolve_image

    # ------------------------------------------------------------- inline
    def inline(self, text: str) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        pos = 0
        for match in _INLINE.finditer(text):
            if match.start() > pos:
                out.append(nodes.Text(text[pos : match.start()]))
            pos = match.end()
            if match.group("code") is not None:
                code = match.group("code_text").strip()
                out.append(nodes.literal(code, code))
            elif match.group("img_src") is not None:
                uri = self._resolve_image(match.group("img_src"))
                alt = match.group("img_alt")
                out.append(nodes.image(uri=uri, alt=alt) if uri else nodes.Text(alt))
            elif match.group("link_url") is not None:
                url = match.group("link_url")
                label = self.inline(match.group("link_text"))
                if re.match(r"^[a-z]+://", url):
                    reference = nodes.reference("", "", refuri=url)
                    reference += label
                    out.append(reference)
                else:
                    out += label
            elif match.group("strong") is not None:
                strong = nodes.strong()
                strong += self.inline(match.group("strong"))
                out.append(strong)
            elif match.group("em") is not None:
                emphasis = nodes.emphasis()
                emphasis += self.inline(match.group("em"))
                out.append(emphasis)
            else:
                url = match.group("autolink")
                reference = nodes.reference(url, url, refuri=url)
                out.append(reference)
        if pos < len(text):
            out.append(nodes.Text(text[pos:]))
        return out

    def paragraph(self, text: str) -> nodes.Node:
        image = re.fullmatch(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)", text.strip())
        if image:
            uri = self._resolve_image(image.group("src"))
            if uri:
                return nodes.image(uri=uri, alt=image.group("alt"))
        para = nodes.paragraph()
        para += self.inline(text)
        return para

    # -------------------------------------------------------------- blocks
    def convert(self, text: str) -> list[nodes.Node]:
        lines = text.replace("\t", "    ").splitlines()
        return list(self._blocks(lines))

    def _blocks(self, lines: Sequence[str]) -> Iterator[nodes.Node]:
        i = 0
        paragraph: list[str] = []

        def flush() -> Iterator[nodes.Node]:
            if paragraph:
                yield self.paragraph(" ".join(s.strip() for s in paragraph))
                paragraph.clear()

        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                yield from flush()
                i += 1
                continue
            if stripped.startswith("```") or stripped.startswith("~~~"):
                yield from flush()
                fence = stripped[:3]
                language = stripped[3:].strip()
                body: list[str] = []
                i += 1
                while i < len(lines) and not lines[i].strip().startswith(fence):
                    body.append(lines[i])
                    i += 1
                i += 1
                code = "\n".join(body)
                block = nodes.literal_block(code, code)
                if language:
                    block["language"] = language
                yield block
                continue
            heading = _HEADING.match(line)
            if heading and not line.startswith(" "):
                yield from flush()
                level = len(heading.group("level"))
                rubric = nodes.rubric(classes=[f"tzk-md-h{level}"])
                rubric += self.inline(heading.group("text"))
                yield rubric
                i += 1
                continue
            if stripped.startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
                yield from flush()
                rows = [line]
                i += 2
                while i < len(lines) and lines[i].strip().startswith("|"):
                    rows.append(lines[i])
                    i += 1
                yield self._table(rows)
                continue
            if _LIST_ITEM.match(line) and not paragraph:
                end = i
                while end < len(lines) and (
                    _LIST_ITEM.match(lines[end])
                    or (lines[end].startswith("  ") and lines[end].strip())
                    or (
                        not lines[end].strip()
                        and end + 1 < len(lines)
                        and (_LIST_ITEM.match(lines[end + 1]) or lines[end + 1].startswith("  "))
                    )
                ):
                    end += 1
                yield self._list(lines[i:end])
                i = end
                continue
            if stripped.startswith(">"):
                yield from flush()
                quoted: list[str] = []
                while i < len(lines) and lines[i].strip().startswith(">"):
                    quoted.append(lines[i].strip()[1:].lstrip())
                    i += 1
                quote = nodes.block_quote()
                quote += list(self._blocks(quoted))
                yield quote
                continue
            if re.fullmatch(r"(-{3,}|\*{3,}|_{3,})", stripped):
                yield from flush()
                i += 1
                continue
            paragraph.append(line)
            i += 1
        yield from flush()

    def _list(self, lines: Sequence[str]) -> nodes.Node:
        first = _LIST_ITEM.match(lines[0])
        assert first is not None
        base = len(first.group("indent"))
        ordered = first.group("marker")[0].isdigit()
        result: nodes.Element = nodes.enumerated_list() if ordered else nodes.bullet_list()
        items: list[list[str]] = []
        for line in lines:
            match = _LIST_ITEM.match(line)
            if match and len(match.group("indent")) <= base:
                items.append([match.group("text")])
            elif items:
                items[-1].append(line[base + 2 :] if line.strip() else "")
        for item_lines in items:
            item = nodes.list_item()
            item += list(self._blocks(item_lines))
            result += item
        return result

    def _table(self, rows: Sequence[str]) -> nodes.Node:
        def cells(row: str) -> list[str]:
            row = row.strip()
            if row.startswith("|"):
                row = row[1:]
            if row.endswith("|") and not row.endswith("\\|"):
                row = row[:-1]
            return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)]

        parsed = [cells(r) for r in rows]
        columns = max(len(r) for r in parsed)
        # "colwidths-auto": HTML leaves the widths to the browser; the widths
        # below (the longest cell of each column) serve the text builders.
        table = nodes.table(classes=["tzk-md-table", "colwidths-auto"])
        group = nodes.tgroup(cols=columns)
        table += group
        for index in range(columns):
            longest = max((len(r[index]) for r in parsed if index < len(r)), default=1)
            group += nodes.colspec(colwidth=max(3, min(longest, 40)))

        def row_node(values: list[str]) -> nodes.row:
            row = nodes.row()
            for index in range(columns):
                entry = nodes.entry()
                value = values[index] if index < len(values) else ""
                para = nodes.paragraph()
                para += self.inline(value)
                entry += para
                row += entry
            return row

        head = nodes.thead()
        head += row_node(parsed[0])
        group += head
        body = nodes.tbody()
        for values in parsed[1:]:
            body += row_node(values)
        group += body
        return table


class MarkdownInclude(SphinxDirective):
    """Render a Markdown file (path relative to this document, or absolute from the source dir)."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "optional": directives.flag,
        "skip-title": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        path = _doc_path(self, self.arguments[0])
        self.env.note_dependency(str(path))
        if not path.exists():
            if "optional" in self.options:
                return []
            raise self.error(f"markdown-include: {path} does not exist")
        srcdir = pathlib.Path(self.env.srcdir)

        def resolve_image(src: str) -> str | None:
            if re.match(r"^[a-z]+://", src):
                return src
            image = (path.parent / src).resolve()
            if not image.exists():
                return None
            try:
                return "/" + image.relative_to(srcdir.resolve()).as_posix()
            except ValueError:
                return None

        converter = MarkdownConverter(resolve_image)
        text = path.read_text(encoding="utf-8")
        if "skip-title" in self.options:
            # The page has its own title: drop the file's first level-1 heading.
            text = re.sub(r"\A\s*# [^\n]*\n", "", text, count=1)
        return converter.convert(text)


# ============================================================ command line
_COMMAND_LINE = re.compile(r"^ {4}([a-z][\w-]*)(?: {2,}\S|$)")


def command_help(argv: Sequence[str]) -> str:
    """The ``--help`` text of ``trio-zookeeper *argv``, 80 columns wide."""
    import contextlib
    import io
    import os

    main = importlib.import_module("trio_zookeeper.__main__").main
    out = io.StringIO()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "82"  # argparse wraps at COLUMNS - 2
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            status = main([*argv, "--help"])
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    if status != 0 or not out.getvalue():
        raise ExtensionError(f"trio-zookeeper {' '.join(argv)} --help failed ({status})")
    return out.getvalue().rstrip()


def subcommands(help_text: str) -> list[str]:
    """The subcommand names listed in a ``--help`` text (indented by four spaces)."""
    return [m.group(1) for line in help_text.splitlines() if (m := _COMMAND_LINE.match(line))]


class CommandLineHelp(SphinxDirective):
    """The ``--help`` of the command and of each (sub)command, generated at build time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(_source_of("trio_zookeeper._cli"))
        result: list[nodes.Node] = []

        def add(argv: list[str], depth: int) -> None:
            text = command_help(argv)
            title = " ".join(["trio-zookeeper", *argv])
            rubric = nodes.rubric(classes=["tzk-command"])
            rubric += nodes.literal(title, title)
            result.append(rubric)
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            result.append(block)
            if depth < 2:
                for name in subcommands(text):
                    add([*argv, name], depth + 1)

        add([], 0)
        return result


# ============================================================ references
def _resolve_private(target: str) -> tuple[object, list[str]] | None:
    """Import ``trio_zookeeper._x._y.Name[.attr]``: (the object ``Name``, ``[attr...]``)."""
    if not target.startswith("trio_zookeeper.") or "._" not in target:
        return None
    parts = target.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        break
    else:
        return None
    rest = parts[split:]
    missing = object()
    obj = getattr(module, rest[0], missing)
    if obj is missing:
        return None
    return obj, rest[1:]


def _public_target(target: str) -> str | None:
    """``trio_zookeeper._x._y.Name[.attr]`` -> ``trio_zookeeper.Name[.attr]`` if public."""
    found = _resolve_private(target)
    if found is None:
        return None
    obj, attributes = found
    for public in PUBLIC_MODULES:
        try:
            namespace = importlib.import_module(public)
        except ImportError:
            continue
        for name in getattr(namespace, "__all__", ()):
            if getattr(namespace, name, None) is obj:
                return ".".join([public, name, *attributes])
    return None


def resolve_private_reference(
    app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve references to private module paths through the public name."""
    if node.get("refdomain") != "py":
        return None
    found = _resolve_private(node.get("reftarget", ""))
    if found is not None and isinstance(found[0], TypeVar | ParamSpec):
        return contnode  # a type variable in a signature: plain text, nothing to link
    target = _public_target(node.get("reftarget", ""))
    if target is None:
        return None
    domain = env.get_domain("py")
    resolved = domain.resolve_xref(
        env, node.get("refdoc", ""), app.builder, node.get("reftype", "obj"), target, node, contnode
    )
    if resolved is None and node.get("reftype") != "obj":
        resolved = domain.resolve_xref(
            env, node.get("refdoc", ""), app.builder, "obj", target, node, contnode
        )
    return resolved


def _is_async_context_manager(obj: object) -> bool:
    from contextlib import asynccontextmanager

    marker = asynccontextmanager(lambda: None).__code__  # type: ignore[arg-type, return-value]
    while obj is not None:
        if getattr(obj, "__code__", None) is marker:
            return True
        obj = getattr(obj, "__wrapped__", None)
    return False


def drop_async_cm_return_annotation(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """``async with f(...) as x``: show no ``-> AsyncIterator[...]``.

    Also: the constructor of an attrs class is generated code, which
    ``autodoc_preserve_defaults`` misreads (``attr_dict['x'].default``); such
    a signature is taken again, with the real default values.
    """
    if what in ("function", "method") and _is_async_context_manager(obj):
        return signature, None
    if what in ("class", "exception") and signature and "attr_dict[" in signature:
        import attrs

        defaults = {field.name: field.default for field in attrs.fields(obj)}  # type: ignore[arg-type]

        def real_default(match: re.Match[str]) -> str:
            return repr(defaults[match.group(1)])

        fixed = re.sub(r"attr_dict\['(\w+)'\]\.default", real_default, signature)
        return fixed, return_annotation
    return None


_TYPE_CHECKING_DONE: set[str] = set()


def type_checking_names(app: Sphinx, obj: object, bound_method: bool) -> None:
    """Give the module of ``obj`` the names it imports only for type checkers.

    The client imports some modules on first use (SASL, the tracer, the tree
    walk), naming their classes in annotations under ``if TYPE_CHECKING:``.
    Autodoc evaluates a signature's annotations in the module's namespace,
    and one missing name leaves all of that signature's annotations as
    unresolvable strings. So, before the first signature of each of our
    modules is taken, its ``if TYPE_CHECKING:`` block runs here, adding the
    names it imports (and changing none the module has).
    """
    name = getattr(obj, "__module__", None)
    if not isinstance(name, str) or not name.startswith("trio_zookeeper"):
        return
    if name in _TYPE_CHECKING_DONE:
        return
    _TYPE_CHECKING_DONE.add(name)
    import ast

    module = sys.modules[name]
    source = inspect.getsource(module)
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            namespace = dict(vars(module))
            block = ast.Module(body=node.body, type_ignores=[])
            exec(compile(block, module.__file__ or name, "exec"), namespace)
            for key, value in namespace.items():
                vars(module).setdefault(key, value)


def preserve_defaults(app: Sphinx, obj: object, bound_method: bool) -> None:
    """Apply ``autodoc_preserve_defaults`` on every path to a signature.

    sphinxcontrib-trio replaces autodoc's function and method documenters
    with subclasses of the legacy class-based ones, which (in Sphinx 9) skip
    the preserve-defaults step: ``acl=OPEN_ACL_UNSAFE`` would be shown as the
    tuple's repr. The legacy path still emits this event just before it takes
    the signature, so the step is done here.
    """
    code = getattr(obj, "__code__", None)
    if code is not None and code.co_filename.startswith("<"):
        return  # generated code (attrs' __init__): its defaults are the real values
    if app.config.autodoc_preserve_defaults and callable(obj):
        from sphinx.ext.autodoc.preserve_defaults import (  # type: ignore[attr-defined]
            update_default_value,
        )

        update_default_value(obj, bound_method)


def data_docstring(
    app: Sphinx, what: str, name: str, obj: object, options: Any, lines: list[str]
) -> None:
    """Give re-exported constants the doc comment of their defining module.

    ``.. autodata:: trio_zookeeper.OPEN_ACL_UNSAFE`` looks for a ``#:``
    comment in ``trio_zookeeper/__init__.py``, finds none (it is in the
    private ``_acl`` module) and falls back to the *type's* docstring (here
    ``tuple``'s). This replaces such a borrowed docstring with the comment
    found where the constant is defined.
    """
    if what != "data" or inspect.isclass(obj) or inspect.isroutine(obj):
        return
    from sphinx.pycode import ModuleAnalyzer
    from sphinx.util.docstrings import prepare_docstring

    borrowed = [line.rstrip() for line in prepare_docstring(type(obj).__doc__ or "") if line]
    if [line.rstrip() for line in lines if line.strip()] == borrowed:
        lines[:] = []
    if lines:
        return
    attribute = name.rpartition(".")[2]
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("trio_zookeeper") or module is None:
            continue
        if getattr(module, attribute, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:
            continue
        comment = docs.get(("", attribute))
        if comment:
            lines[:] = list(comment)
            return


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and event handlers."""
    app.add_directive("session-state-diagram", SessionStateDiagram)
    app.add_directive("session-state-table", SessionStateTable)
    app.add_directive("exception-tree", ExceptionTree)
    app.add_directive("markdown-include", MarkdownInclude)
    app.add_directive("only-if-exists", OnlyIfExists)
    app.add_directive("only-if-missing", OnlyIfMissing)
    app.add_directive("command-line-help", CommandLineHelp)
    app.connect("missing-reference", resolve_private_reference)
    app.connect("autodoc-process-signature", drop_async_cm_return_annotation)
    app.connect("autodoc-before-process-signature", type_checking_names)
    app.connect("autodoc-before-process-signature", preserve_defaults)
    # Before napoleon (priority 500), so it sees the restored comment.
    app.connect("autodoc-process-docstring", data_docstring, priority=400)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
