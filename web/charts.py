"""The statistics page's charts: SVG drawn on the server by pygal, in the reader's language.

Each chart is its own SVG document (``/statistics/chart/<name>.svg``), shown with an
``<img>`` and followed on the page by a table of the same numbers. pygal puts its CSS in
a ``<style>`` element inside the SVG, which the portal's Content-Security-Policy
(``style-src 'self'``) would refuse inline in a page; as an image of its own the SVG
carries its own narrow policy. No script: pygal's tooltips script (``js``) would load
from outside the site, so it is switched off, and the settings pygal writes for it are
taken out; the charts need nothing from outside.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from babel.dates import format_date

from web.i18n import Translate, country_name
from workflow.statistics import COMPLIANCE, OUTCOMES, Statistics


def _load_pygal() -> Any:
    """pygal, without the legacy ``sys.meta_path`` finder it appends for its map plugins
    (unused here): that finder has no ``find_spec``, so every later import of a module
    that is not installed would warn (ImportWarning, an error under the tests'
    ``-W error``), e.g. uvicorn's optional ``import uvloop``."""
    import pygal  # imported here, then its finder taken out at once
    import pygal.style

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
    return pygal


pygal = _load_pygal()
Style = pygal.style.Style

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
#: The charts of the page, in its order.
CHARTS = ("growth", "outcomes", "endorsements", "compliance")
#: The policy an SVG chart is served with: its own styles, nothing else.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

#: Colours that keep 3:1 against white and apart from each other (colour-blind safe).
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#57606a",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=13,
    colors=("#0b5cad", "#c2410c", "#1a7f37", "#7e22ce", "#9a6700", "#57606a"),
)


def _chart(kind: Callable[..., Any], title: str) -> Any:
    return kind(
        style=_STYLE,
        js=[],  # no tooltips script from outside the site
        disable_xml_declaration=True,
        width=880,
        height=420,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        print_values=False,
        title=title,
        x_label_rotation=0,
        truncate_legend=-1,
        no_data_text="—",
    )


def _whole_numbers(chart: Any, top: int) -> None:
    """Counts: an axis of whole numbers (pygal would write 0.1, 0.2... under 10)."""
    step = max(1, -(-top // 8))
    chart.y_labels = list(range(0, max(top, 1) + step, step))


def growth(stats: Statistics, t: Translate) -> Any:
    chart = _chart(pygal.StackedBar, t("stats.growth.title"))
    chart.x_labels = [str(y) for y in stats.growth.years]
    for region, counts in stats.growth.by_region.items():
        chart.add(t(f"region.{region}"), counts)
    columns = zip(*stats.growth.by_region.values(), strict=True)
    _whole_numbers(chart, max((sum(c) for c in columns), default=0))
    return chart


def outcomes(stats: Statistics, t: Translate) -> Any:
    chart = _chart(pygal.StackedBar, t("stats.outcomes.title"))
    chart.x_labels = [c.call for c in stats.outcomes]
    for outcome in OUTCOMES:
        chart.add(t(f"stats.outcome.{outcome}"), [c.counts[outcome] for c in stats.outcomes])
    _whole_numbers(chart, max((c.total for c in stats.outcomes), default=0))
    return chart


def endorsements(stats: Statistics, t: Translate, lang: str) -> Any:
    """The latest call's endorsements by country, against its quota."""
    latest = stats.endorsements[-1] if stats.endorsements else None
    title = t("stats.endorsements.chart", call=latest.call) if latest else t("stats.none")
    chart = _chart(pygal.HorizontalBar, title)
    if latest is None:
        return chart
    codes: Sequence[str] = sorted(latest.used, key=lambda c: country_name(c, lang, c))
    chart.x_labels = [country_name(c, lang, c) for c in codes]
    chart.add(t("stats.endorsements.used"), [latest.used[c] for c in codes])
    chart.add(t("stats.endorsements.quota"), [latest.quota for _ in codes])
    chart.height = max(260, 90 + 34 * len(codes))
    _whole_numbers(chart, max([latest.quota, *latest.used.values()]))
    return chart


def compliance(stats: Statistics, t: Translate, lang: str) -> Any:
    chart = _chart(pygal.StackedBar, t("stats.compliance.title"))
    chart.x_labels = [
        str(format_date(c.due_on, format="medium", locale=lang)) for c in stats.compliance
    ]
    for part in COMPLIANCE:
        chart.add(t(f"stats.compliance.{part}"), [getattr(c, part) for c in stats.compliance])
    _whole_numbers(chart, max((c.total for c in stats.compliance), default=0))
    return chart


def svg(name: str, stats: Statistics, t: Translate, lang: str) -> str:
    """The chart ``name`` (one of ``CHARTS``) as an SVG document."""
    if name == "growth":
        chart = growth(stats, t)
    elif name == "outcomes":
        chart = outcomes(stats, t)
    elif name == "endorsements":
        chart = endorsements(stats, t, lang)
    else:
        chart = compliance(stats, t, lang)
    # pygal writes its settings in an inline <script> for the tooltips script (off here):
    # nothing runs it, and an image's scripts never run; it goes.
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))
