"""The build report's chart and totals line (dlbook_utils.bookbuild.report_chart)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dlbook_utils.bookbuild.book import BUDGET_MB, BUDGET_S, report_markdown
from dlbook_utils.bookbuild.report_chart import COLOURS, chart_svg, summary_line
from dlbook_utils.bookbuild.runner import Result

SVG = "{http://www.w3.org/2000/svg}"


def _result(name: str, wall: float | None, mb: float | None, status: str = "ok",
            hit: bool = False) -> Result:
    return Result(f"lessons/01_part/{name}.md", status, hit, wall, mb, "cpu", "dlbook-cpu", {},
                  "key")


RESULTS = [_result("01_fast", 12.0, 900.0), _result("02_hit", 30.0, 1200.0, hit=True),
           _result("03_slow", 75.0, 1000.0), _result("04_heavy", 20.0, 3000.0),
           _result("05_broken", None, None, status="failed")]


def _bars(svg: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_chart_is_valid_svg_with_a_bar_per_measured_value_and_two_budget_lines() -> None:
    svg = chart_svg(RESULTS, BUDGET_S, BUDGET_MB)
    root = ET.fromstring(svg)  # well-formed XML
    bars = _bars(svg)
    assert len(bars) == 8  # 4 measured lessons × (time, memory); the failed one has none
    budgets = [e for e in root.iter(f"{SVG}line") if e.get("class") == "budget"]
    assert len(budgets) == 2
    labels = "".join(root.itertext())
    assert "budget 60 s" in labels and "budget 2560 MB" in labels
    assert "05_broken ✗" in labels and "failed, no s measured" in labels
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no remote asset


def test_bars_are_coloured_by_what_happened_and_scaled_by_value() -> None:
    bars = _bars(chart_svg(RESULTS, BUDGET_S, BUDGET_MB))
    titles = [b.find(f"{SVG}title").text for b in bars]  # "01_fast: 12.0 s"
    fill = {t.split(":")[0] + " " + t.split()[-1]: b.get("fill") for t, b in zip(titles, bars)}
    assert fill["01_fast s"] == COLOURS["ok"] and fill["02_hit s"] == COLOURS["hit"]
    assert fill["03_slow s"] == COLOURS["over"] and fill["03_slow MB"] == COLOURS["ok"]
    assert fill["04_heavy MB"] == COLOURS["over"]
    width = {b.find(f"{SVG}title").text: float(b.get("width")) for b in bars}
    assert abs(width["03_slow: 75.0 s"] / width["01_fast: 12.0 s"] - 75 / 12) < 1e-2


def test_summary_line_names_totals_and_what_is_over_budget() -> None:
    line = summary_line(RESULTS, BUDGET_S, BUDGET_MB)
    assert line.startswith("**5 lessons**; summed execution time **137 s**")
    assert "slowest **03_slow** (75.0 s)" in line
    assert "largest peak memory **04_heavy** (3000 MB)" in line
    assert "over budget: **03_slow, 04_heavy**" in line
    assert "none over budget" in summary_line(RESULTS[:2], BUDGET_S, BUDGET_MB)


def test_report_page_puts_failures_then_totals_then_chart_above_the_table() -> None:
    page = report_markdown(RESULTS)
    order = [page.index(s) for s in ("1 lesson(s) failed", "**5 lessons**",
                                     "build_report_chart.svg", "| lesson |")]
    assert order == sorted(order)
