"""The workflow diagram drawn server-side as inline SVG from the machine's own table.

The picture reads left to right in step order: each state sits in the column of the
longest forward path that reaches it from the initial state (steps back, such as a
return or a reopened review, are dashed arcs above the boxes; steps that skip columns run
in a channel below them). A step that several states share towards the same end (withdraw,
remove) is not drawn as a fan of crossing arrows but listed under the picture as one line:
its action, who takes it, the states it starts from and where it leads.

Arrows run only through the gaps between columns and the channels above and below the
rows, never across a box. The picture scrolls sideways inside its own box on a phone; the
page puts the whole table beside it as text, so nothing depends on the picture alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from web.i18n import state_word
from workflow.machines import Workflow

BOX_H, ROW_GAP, COL_GAP, LANE = 32, 18, 64, 9
PAD = 12
#: Width of a character of the 13px label, with room to spare (labels are not measured).
CHAR_W = 7.4
#: A step shared by at least this many states is listed under the picture instead.
FAN = 3

Edge = tuple[str, str, str, frozenset[object]]


@dataclass
class Layout:
    """Where each state stands and which kind of line each edge is."""

    column: dict[str, int] = field(default_factory=dict)
    row: dict[str, int] = field(default_factory=dict)
    forward: list[Edge] = field(default_factory=list)
    back: list[Edge] = field(default_factory=list)
    #: (trigger, dest) -> (sources, roles) of the steps listed under the picture.
    shared: dict[tuple[str, str], tuple[list[str], frozenset[object]]] = field(default_factory=dict)

    @property
    def columns(self) -> int:
        return max(self.column.values(), default=0) + 1

    @property
    def rows(self) -> int:
        return max(self.row.values(), default=0) + 1


def layout(workflow: Workflow) -> Layout:
    """Columns by longest forward path from the initial state, rows by barycentre."""
    edges: list[Edge] = [(s, t, d, frozenset(r)) for s, t, d, r in workflow.edges()]
    initial = workflow.initial.value
    order = [s.value for s in workflow.states]
    fans: dict[tuple[str, str], list[str]] = {}
    for src, trigger, dest, _roles in edges:
        fans.setdefault((trigger, dest), []).append(src)
    plan = Layout()
    for (trigger, dest), sources in fans.items():
        onward = {d for s, _t, d, _r in edges if s == dest}
        if len(sources) >= FAN and onward <= {initial}:
            roles = next(r for s, t, d, r in edges if t == trigger and d == dest)
            plan.shared[(trigger, dest)] = (sources, roles)
    main = [e for e in edges if (e[1], e[2]) not in plan.shared]

    # Depth-first from the initial state in table order: an edge to a state still on the
    # path (or into the initial state) goes back; so does every edge from a state the
    # initial state does not reach (it enters the picture only through a shared step).
    seen: set[str] = set()
    on_path: set[str] = set()
    back: set[int] = set()

    def visit(state: str) -> None:
        seen.add(state)
        on_path.add(state)
        for i, (src, _t, dest, _r) in enumerate(main):
            if src != state:
                continue
            if dest in on_path or dest == initial:
                back.add(i)
            elif dest not in seen:
                visit(dest)
        on_path.discard(state)

    visit(initial)
    for i, (src, _t, _d, _r) in enumerate(main):
        if src not in seen:
            back.add(i)
    plan.forward = [e for i, e in enumerate(main) if i not in back]
    plan.back = [e for i, e in enumerate(main) if i in back]

    # Longest path over the forward edges (a DAG by construction).
    drawn = {initial} | {e[0] for e in main} | {e[2] for e in main}
    column = {initial: 0}
    for _ in order:  # at most one pass per state settles every longest path
        for src, _t, dest, _r in plan.forward:
            if src in column and column.get(dest, -1) < column[src] + 1:
                column[dest] = column[src] + 1
    last = max(column.values())
    for state in order:
        if state in drawn and state not in column:
            column[state] = last + 1
    plan.column = column

    # Rows: each column in the order of the mean row of its forward predecessors.
    for col in range(max(column.values()) + 1):
        here = [s for s in order if column.get(s) == col]

        def weight(state: str) -> tuple[float, int]:
            before = [plan.row[s] for s, _t, d, _r in plan.forward if d == state and s in plan.row]
            mean = sum(before) / len(before) if before else 0.0
            return mean, order.index(state)

        for row, state in enumerate(sorted(here, key=weight)):
            plan.row[state] = row
    return plan


def _merged(edges: list[Edge]) -> dict[tuple[str, str], list[tuple[str, frozenset[object]]]]:
    """One line per pair of states, however many steps join them (its title names each)."""
    lines: dict[tuple[str, str], list[tuple[str, frozenset[object]]]] = {}
    for src, trigger, dest, roles in edges:
        lines.setdefault((src, dest), []).append((trigger, roles))
    return lines


def svg(workflow: Workflow, current: str | None, label: Callable[..., str]) -> Markup:
    """An accessible SVG of ``workflow`` with ``current`` highlighted, and the shared
    steps as a list under it."""
    _ = label
    plan = layout(workflow)
    name = workflow.name
    names = {s: state_word(label, s, name) for s in plan.column}
    box_w = max(96, round(max(len(n) for n in names.values()) * CHAR_W) + 20)
    forward, back = _merged(plan.forward), _merged(plan.back)
    back_lanes = len(back)
    skips = [k for k in forward if plan.column[k[1]] - plan.column[k[0]] > 1]
    top = PAD + back_lanes * LANE + (12 if back_lanes else 0)
    left = PAD + COL_GAP // 2
    bottom = top + plan.rows * (BOX_H + ROW_GAP) - ROW_GAP
    width = left * 2 + plan.columns * (box_w + COL_GAP) - COL_GAP
    height = bottom + (len(skips) * LANE + 14 if skips else 0) + PAD

    def x(state: str) -> int:
        return left + plan.column[state] * (box_w + COL_GAP)

    def y(state: str) -> int:
        return top + plan.row[state] * (BOX_H + ROW_GAP)

    def title(trigger: str, roles: frozenset[object]) -> str:
        who = ", ".join(sorted(label("role." + str(getattr(r, "value", r))) for r in roles))
        return f"{label(f'action.{name}.{trigger}')} ({who})"

    def titles(steps: list[tuple[str, frozenset[object]]]) -> str:
        return "; ".join(title(trigger, roles) for trigger, roles in steps)

    title_id, desc_id = f"diagram-{name}-title", f"diagram-{name}-desc"
    desc = _("diagram.desc")
    if current in names:
        desc += " " + _("diagram.current", state=names[current])
    parts = [
        f'<div class="diagram-scroll" tabindex="0" role="region" aria-labelledby="{title_id}">',
        f'<svg class="diagram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{title_id} {desc_id}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(label("diagram." + name))}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        f'<defs><marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]

    def edge(path: str, kind: str, steps: list[tuple[str, frozenset[object]]]) -> None:
        parts.append(
            f'<path class="edge {kind}" d="{path}" marker-end="url(#arrow-{name})">'
            f"<title>{escape(titles(steps))}</title></path>"
        )

    mid = BOX_H // 2
    for (src, dest), steps in forward.items():
        sx, sy, dx, dy = x(src) + box_w, y(src) + mid, x(dest), y(dest) + mid
        if plan.column[dest] - plan.column[src] == 1:
            cx = (sx + dx) // 2
            edge(f"M{sx},{sy} C{cx},{sy} {cx},{dy} {dx - 1},{dy}", "", steps)
        else:  # along the channel under the rows, up through the gap before dest
            lane = bottom + 14 + skips.index((src, dest)) * LANE
            out, into = sx + COL_GAP // 2 - 6, dx - COL_GAP // 2 + 6
            edge(f"M{sx},{sy} H{out} V{lane} H{into} V{dy} H{dx - 1}", "skip", steps)
    for n, ((src, dest), steps) in enumerate(back.items()):
        lane = top - 12 - n * LANE
        shift = (n % 3 - 1) * 8
        if plan.row[src] == 0:
            start = f"M{x(src) + box_w // 2 + shift},{y(src)} V{lane}"
        else:
            gap = x(src) + box_w + COL_GAP // 2 + shift
            start = f"M{x(src) + box_w},{y(src) + mid} H{gap} V{lane}"
        if plan.row[dest] == 0:
            end = f"H{x(dest) + box_w // 2 - shift} V{y(dest) - 1}"
        else:
            gap = x(dest) - COL_GAP // 2 - shift
            end = f"H{gap} V{y(dest) + mid} H{x(dest) - 1}"
        edge(f"{start} {end}", "back", steps)
    for state in plan.column:
        cls = "node current" if state == current else "node"
        parts.append(
            f'<g class="{cls}"><rect x="{x(state)}" y="{y(state)}" width="{box_w}" '
            f'height="{BOX_H}" rx="6"/><text x="{x(state) + box_w // 2}" '
            f'y="{y(state) + mid + 5}" text-anchor="middle">{escape(names[state])}</text></g>'
        )
    parts.append("</svg></div>")
    if plan.shared:
        parts.append(f'<p class="diagram-shared-intro">{escape(_("diagram.shared"))}</p>')
        parts.append('<ul class="diagram-shared">')
        for (trigger, dest), (sources, roles) in plan.shared.items():
            chips = " ".join(
                f'<span class="chip{" current" if s == current else ""}">'
                f"{escape(state_word(label, s, name))}</span>"
                for s in sources
            )
            parts.append(
                f"<li><strong>{escape(title(trigger, roles))}</strong>: {chips} "
                f'<span aria-hidden="true">→</span>'
                f'<span class="visually-hidden">{escape(_("diagram.to"))}</span> '
                f'<span class="chip end">{escape(state_word(label, dest, name))}</span></li>'
            )
        parts.append("</ul>")
    return Markup("".join(parts))
