"""The capacity report: one quick report built once (module fixture), then checked as a user
would see it: files beside it, every section in headless Chromium without console errors or
broken images, a screenshot, and the PDF's pages.

Tolerances: none on figures here (the numbers are the library's, tested where computed); the
checks are structural. The browser is Debian's chromium driven over the DevTools protocol by
playwright (`executable_path`, no browser download).
"""

from __future__ import annotations

import json
import shutil
import unicodedata

import pandas as pd
import pytest

from simlab.report import SECTIONS, Report, render_pdf
from simlab.report.loadcurve import kneedle

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One quick report through the command line, as `make report` runs it (exit code and
    --json checked here; the exit code of a missed SLO in test_cli_errors). The capacity plan
    is left out (a minute of planning; simlab.plan's own tests cover it, and its table is
    rendered like every other table here)."""
    from typer.testing import CliRunner

    from simlab.cli import app

    out = tmp_path_factory.mktemp("report")
    res = CliRunner().invoke(app, ["report", "--quick", "--no-plan", "--out", str(out), "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == (0 if doc["slos_met"] else 1), res.output
    return Report(html_path=out / "index.html", data_dir=out / "data", summary=doc)


def test_report_writes_html_summary_and_data(report):
    assert report.html_path.name == "index.html" and report.html_path.exists()
    size = report.html_path.stat().st_size
    assert 10_000 < size < 5 * 2**20  # the limit: under 5 MB
    summary = json.loads((report.html_path.parent / "summary.json").read_text())
    assert summary["scenario"] == "redis-cache-service"
    assert {v["name"] for v in summary["slo_verdicts"]} and summary["slos_met"] in (True, False)
    assert summary["slos_met"] == all(v["met"] for v in summary["slo_verdicts"])
    for name in ("latency_summary.csv", "latency_cdf.csv", "load_curve.csv", "mrc.csv"):
        df = pd.read_csv(report.data_dir / name)
        assert len(df) > 0, name
    # the load curve in the CSV is what summary.json says
    curve = pd.read_csv(report.data_dir / "load_curve.csv")
    assert curve["p99_ms"].tolist() == pytest.approx([p["p99_ms"] for p in summary["load_curve"]["points"]])
    html = report.html_path.read_text()
    for fetch in ('src="http', "src='http", 'href="http', "url(http", "@import"):  # nothing to fetch: no network
        assert fetch not in html, fetch


def test_report_numbers_on_the_page_come_from_summary(report):
    """The executive summary on the page is summary.json's sentence, not one the template builds."""
    html = report.html_path.read_text()
    summary = json.loads((report.html_path.parent / "summary.json").read_text())
    from markupsafe import escape  # jinja2's own escaping

    assert str(escape(summary["executive_summary"])) in html


def test_kneedle_finds_the_bend_and_not_a_flat_curve():
    x = [1, 2, 3, 4, 5, 6]
    assert kneedle(x, [10, 10.5, 11, 12, 30, 200]) == 4  # the point farthest below the chord
    assert kneedle(x, [100, 101, 100, 102, 101, 103]) is None  # no rise: no knee


@needs_chromium
def test_report_in_headless_chromium(report, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(report.html_path.resolve().as_uri())
            page.wait_for_load_state("load")
            for sid in SECTIONS:
                assert page.locator(f"section#{sid}").count() == 1, sid
                assert page.locator(f"section#{sid} h2").inner_text().strip()
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
            assert broken == 0
            assert page.locator("svg").count() >= 5  # the inline figures
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        finally:
            browser.close()
    assert errors == []


@needs_chromium
def test_report_pdf_has_the_pages(report, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    pdf = render_pdf(report.html_path, tmp_path / "report.pdf")
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) >= 4  # eleven sections with figures do not fit on fewer A4 pages
    # NFKC undoes the PDF's ligatures (ﬀ, ﬁ); headings may wrap, so whitespace is normalised
    text = " ".join(unicodedata.normalize("NFKC", " ".join(page.extract_text() for page in reader.pages)).split())
    for heading in ("Executive summary", "SLOs", "Percentiles against offered load", "Hit ratio against memory",
                    "Scenario, seed and versions"):
        assert heading in text, heading


def test_figures_are_library_functions_of_a_result():
    """The functions notebooks call: a RunResult in, a matplotlib Figure out, inline SVG."""
    from matplotlib.figure import Figure

    from simlab.model.run import simulate
    from simlab.paths import DEFAULT_SCENARIO
    from simlab.report import figures
    from simlab.scenario import load_scenario

    r = simulate(load_scenario(DEFAULT_SCENARIO), duration_s=8, warmup_s=2, replications=2)
    for fig in (figures.latency_percentiles(r, 200), figures.latency_cdf(r, 200)):
        assert isinstance(fig, Figure) and fig.axes
        svg = figures.figure_svg(fig)
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    cdf = r.extra["latency_cdf"]
    assert cdf["cdf"].is_monotonic_increasing and cdf["cdf"].iloc[-1] == 1.0
