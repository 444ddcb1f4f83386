"""The workflow diagram drawn server-side as inline SVG from the machine's own table.

States are placed in columns by their distance from the initial state; each edge of the
table is an arrow (its action and roles in a tooltip). The page puts the same table
beside it as an HTML list of transitions, so nothing depends on the picture alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from markupsafe import Markup, escape

from workflow.machines import Workflow

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 128, 30, 52, 16, 10
TOP = 36  # room above the first row for the arcs of backward steps


def _columns(workflow: Workflow) -> dict[str, int]:
    depth = {workflow.initial.value: 0}
    queue = deque([workflow.initial.value])
    edges = workflow.edges()
    while queue:
        state = queue.popleft()
        for src, _trigger, dest, _roles in edges:
            if src == state and dest not in depth:
                depth[dest] = depth[state] + 1
                queue.append(dest)
    last = max(depth.values(), default=0)
    for state in workflow.states:
        depth.setdefault(state.value, last + 1)
    return depth


def svg(workflow: Workflow, current: str | None, label: Callable[[str], str]) -> Markup:
    """An accessible SVG of ``workflow`` with ``current`` highlighted."""
    depth = _columns(workflow)
    rows: dict[int, list[str]] = {}
    for state in workflow.states:
        rows.setdefault(depth[state.value], []).append(state.value)
    pos: dict[str, tuple[int, int]] = {}
    for col, names in rows.items():
        for row, name in enumerate(names):
            pos[name] = (PAD + col * (BOX_W + COL_GAP), TOP + row * (BOX_H + ROW_GAP))
    width = PAD * 2 + (max(rows) + 1) * (BOX_W + COL_GAP) - COL_GAP
    height = TOP + PAD + max(len(n) for n in rows.values()) * (BOX_H + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg class="diagram" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" '
        f'aria-label="{escape(label("diagram." + workflow.name))}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<defs><marker id="arrow-{workflow.name}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for src, trigger, dest, roles in workflow.edges():
        (x1, y1), (x2, y2) = pos[src], pos[dest]
        forward = depth[dest] > depth[src]
        sx, sy = (x1 + BOX_W, y1 + BOX_H / 2) if forward else (x1 + BOX_W / 2, y1)
        ex, ey = (x2, y2 + BOX_H / 2) if forward else (x2 + BOX_W / 2, y2)
        bend = 0 if forward else -28
        mx, my = (sx + ex) / 2, min(sy, ey) + bend if not forward else (sy + ey) / 2
        who = ", ".join(sorted(label("role." + r.value) for r in roles))
        title = escape(f"{label(f'action.{workflow.name}.{trigger}')} ({who})")
        parts.append(
            f'<path class="edge" d="M{sx:.0f},{sy:.0f} Q{mx:.0f},{my:.0f} {ex:.0f},{ey:.0f}" '
            f'marker-end="url(#arrow-{workflow.name})"><title>{title}</title></path>'
        )
    for name, (x, y) in pos.items():
        cls = "node current" if name == current else "node"
        parts.append(
            f'<g class="{cls}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" text-anchor="middle">'
            f"{escape(label('state.' + name))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
