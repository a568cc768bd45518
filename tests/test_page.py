"""Interactive pages, opened in a real headless Chromium: offline, free of errors, and showing
the saved snapshots exactly.

The browser tests need Playwright's Python package and a Chromium (``/usr/bin/chromium`` or
``$GAMESIM_CHROMIUM``); without them they are skipped, but under CI (``CI=true``) they fail.
"""

import io
import json
import os
import re
import shutil
import urllib.parse

import numpy as np
import pytest

from conftest import SCENARIOS, assert_one_line_error, gamesim_cli

from gamesim import page as gpage, results

# processes, virtual environments or a browser: left out by -m 'not slow'
pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("GAMESIM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = ("file:", "data:", "blob:", "about:")
SCENARIO_NAMES = ["ideal-oracle", "dirac-gan-simultaneous"]


def unavailable(reason):
    """Skip for lack of a browser; under CI, where one must be installed, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the page tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    if not os.path.isfile(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set "
                    "GAMESIM_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as err:
            unavailable(f"Chromium at {CHROMIUM} does not start: {err}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directories of the two scenarios (200 iterations), each with its page."""
    folder = tmp_path_factory.mktemp("pages")
    made = {}
    for name in SCENARIO_NAMES:
        proc = gamesim_cli(["run", os.path.join(SCENARIOS, f"{name}.toml"), "--out", name,
                            "--no-plots", "--quiet", "--set", "iterations=200"], folder)
        assert proc.returncode == 0, proc.stderr
        made[name] = folder / name
        assert gpage.write_run_page(made[name]) == os.path.join(made[name], "report.html")
    return made


class Opened:
    """A page opened from its file, with every console error, page error and request that
    would leave the file (those are aborted) recorded."""

    def __init__(self, browser, path):
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.errors, self.remote = [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(f"file://{os.path.abspath(path)}")
        self.page.wait_for_function("() => window.Plotly && [...document.querySelectorAll("
                                    "'.plotly-graph-div')].every(d => d._fullLayout)")

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            self.remote.append(url)
            route.abort()

    def check_clean(self):
        assert self.errors == []
        assert self.remote == []
        linked = self.page.evaluate("() => [...document.querySelectorAll('[src],[href]')]"
                                    ".map(e => e.getAttribute('src') || e.getAttribute('href'))")
        assert [u for u in linked if re.match(r"\s*(https?:)?//", u)] == []


@pytest.fixture(scope="module")
def opened(browser, runs):
    """Each scenario's page, opened once for the module's tests (Chromium takes seconds to
    parse plotly.js on a busy machine)."""
    pages = {name: Opened(browser, runs[name] / "report.html") for name in SCENARIO_NAMES}
    yield pages
    for one in pages.values():
        one.page.close()


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_run_page_renders_offline_without_errors(opened, name):
    page = opened[name].page
    divs = page.evaluate("() => [...document.querySelectorAll('.plotly-graph-div')]"
                         ".map(d => d.id)")
    expected = ["densities", "convergence"]
    if name.startswith("dirac"):
        expected += ["parameters", "phase"]
    assert divs == expected
    headings = page.evaluate("() => [...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert headings == ["Summary", "Densities", "Convergence",
                        *(["Players' parameters", "Phase portrait"] if name.startswith("dirac")
                          else []), "Scenario"]
    assert page.title() == f"gamesim run: {name}"
    page.wait_for_timeout(200)
    opened[name].check_clean()


ANIMATE = """async k => {
    const gd = document.getElementById('densities');
    await Plotly.animate(gd, [String(k)], {frame: {duration: 0, redraw: false},
                                          transition: {duration: 0}, mode: 'immediate'});
    return {p_g: gd.data[1].y, d: gd.data[2].y, active: gd.layout.sliders[0].active,
            label: gd.layout.sliders[0].steps[gd.layout.sliders[0].active].label};
}"""


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_slider_frames_show_each_snapshot_exactly(opened, runs, name):
    s = results.RunData(runs[name]).snapshots
    h = s["x"][1] - s["x"][0]
    page = opened[name].page
    count = len(s["iterations"])
    assert count > 2
    for k in [*range(1, count), 0]:
        shown = page.evaluate(ANIMATE, k)
        np.testing.assert_allclose(np.array(shown["p_g"], dtype=float), s["p_gen"][k] / h,
                                   rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.array(shown["d"], dtype=float), s["d"][k],
                                   rtol=1e-12, atol=0)
        assert shown["active"] == k and shown["label"] == str(int(s["iterations"][k]))
    # the slider itself: a click on its rail above the last step's label shows the last
    page.locator("#densities .slider-rail-touch-rect").scroll_into_view_if_needed()
    label = page.locator("#densities .slider-label").last.bounding_box()
    rail = page.locator("#densities .slider-rail-touch-rect").bounding_box()
    page.mouse.click(label["x"] + label["width"] / 2, rail["y"] + rail["height"] / 2)
    page.wait_for_function("() => document.getElementById('densities')"
                           f".layout.sliders[0].active === {count - 1}")
    page.wait_for_timeout(100)
    shown = page.evaluate("() => document.getElementById('densities').data[1].y")
    np.testing.assert_allclose(np.array(shown, dtype=float), s["p_gen"][-1] / h,
                               rtol=1e-12, atol=0)
    opened[name].check_clean()


def _inked(png):
    """Share of pixels of a PNG that are not (nearly) white."""
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")[..., :3]
    return float(np.mean(np.any(pixels < 0.95, axis=-1)))


@pytest.mark.parametrize("div", ["densities", "convergence", "phase"])
def test_figures_are_drawn(opened, div):
    page = opened["dirac-gan-simultaneous"].page
    assert _inked(page.locator(f"#{div}").screenshot()) > 0.01
    assert _inked(page.screenshot(full_page=True)) > 0.01


def test_same_run_gives_the_same_page_bytes(runs, tmp_path):
    run = runs["dirac-gan-simultaneous"]
    first = (run / "report.html").read_bytes()
    again = gpage.write_run_page(run, out=tmp_path / "again.html")
    assert again == str(tmp_path / "again.html")
    assert (tmp_path / "again.html").read_bytes() == first
    gpage.write_run_page(run)
    assert (run / "report.html").read_bytes() == first
    assert [e for e in os.listdir(run) if e.startswith(".")] == []  # no partial file left


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_page_is_self_contained(runs, name):
    text = (runs[name] / "report.html").read_text()
    markup = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, flags=re.I)
    assert not re.search(r"<script[^>]*\ssrc=|<link\b|<iframe\b|<img\b", markup, flags=re.I)
    assert "cdn.plot.ly" not in markup and "mathjax" not in markup.lower()
    # plotly.js inline exactly once; the summary, scenario text and warnings on the page
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert sum(len(js) > 1_000_000 for js in scripts) == 1  # plotly.js, once
    assert "<h2>Scenario</h2>" in text and f'name = &quot;{name}&quot;' in text
    assert "<h3>Final metrics</h3>" in text and "<h3>Warnings</h3>" in text
    assert "equilibrium -1.38629" in text  # the value's equilibrium line


def test_non_finite_values_and_checks_do_not_break_the_page(browser, runs, tmp_path):
    run = tmp_path / "damaged"
    shutil.copytree(runs["dirac-gan-simultaneous"], run)
    (run / "report.html").unlink()
    lines = (run / "metrics.csv").read_text().splitlines()
    cells = lines[5].split(",")
    cells[1:4] = ["inf", "nan", "-inf"]
    lines[5] = ",".join(cells)
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    s = results.RunData(run).snapshots
    s["p_gen"][1, :10] = np.nan
    s["d"][1, 5] = np.inf
    results.write_npz(run / "snapshots.npz", s)
    summary = json.loads((run / "summary.json").read_text())
    summary.update(warnings=["a <b>warning</b>"],
                   checks={"value near -log 4": "failed", "js": {"final": 0.0}})
    (run / "summary.json").write_text(json.dumps(summary))
    gpage.write_run_page(run)
    text = (run / "report.html").read_text()
    assert "<h3>Checks</h3>" in text and "value near -log 4" in text
    assert "a &lt;b&gt;warning&lt;/b&gt;" in text
    opened = Opened(browser, run / "report.html")
    try:
        shown = opened.page.evaluate(ANIMATE, 1)
        assert shown["p_g"][:10] == [None] * 10 and shown["d"][5] is None
        value = opened.page.evaluate("() => document.getElementById('convergence').data[0].y")
        assert value[4] is None and value[3] is not None  # line 5 is iteration 4
        opened.check_clean()
    finally:
        opened.page.close()


SWEEP = """
name = "sw"
iterations = 30
record_every = 10
[grid]
points = 64
[target]
kind = "normal"
[generator]
kind = "density"
init = { kind = "normal", mean = 1.0, std = 2.0 }
[sweep]
"generator.optimizer.lr" = [0.25, 1.0, -1.0]
"game.objective" = ["minimax", "nonsaturating"]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "sw.toml").write_text(SWEEP)
    proc = gamesim_cli(["sweep", "sw.toml", "--out", "sw", "--jobs", "1", "--point-dirs", "--quiet"], folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "sw"


def test_sweep_page_without_point_pages_links_nothing(sweep_dir):
    path = gpage.write_sweep_page(sweep_dir)
    assert path == os.path.join(sweep_dir, "report.html")
    text = open(path).read()
    assert "<a href" not in re.sub(r"<script>.*?</script>", "", text, flags=re.S)
    assert not any(os.path.exists(os.path.join(sweep_dir, d, "report.html"))
                   for d in os.listdir(sweep_dir))
    first = open(path, "rb").read()
    gpage.write_sweep_page(sweep_dir)
    assert open(path, "rb").read() == first


def test_sweep_page_renders_with_links_to_point_pages(browser, sweep_dir):
    path = gpage.write_sweep_page(sweep_dir, metric="w1", point_pages=True)
    opened = Opened(browser, path)
    try:
        trace = opened.page.evaluate("() => { const d = document.getElementById('sweep').data;"
                                     " return [d[0].type, d[0].z, d[1].name]; }")
        assert trace[0] == "heatmap" and trace[2] == "failed or diverged"
        assert len(trace[1]) == 2 and all(len(row) == 3 for row in trace[1])
        assert [row[2] for row in trace[1]] == [None, None]  # lr = -1 is refused: no value
        links = opened.page.evaluate("() => [...document.querySelectorAll('a')]"
                                     ".map(a => a.href)")
        assert len(links) == 4
        for link in links:
            assert link.startswith("file://") and link.endswith("/report.html")
            assert os.path.isfile(urllib.parse.unquote(link[len("file://"):]))
        opened.check_clean()
    finally:
        opened.page.close()


def test_unavailable_browser_skips_outside_ci_and_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        unavailable("no browser")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no browser"):
        unavailable("no browser")


def test_the_command_line_writes_pages_and_view_rewrites_them(tmp_path):
    scenario = os.path.join(SCENARIOS, "ideal-oracle.toml")
    proc = gamesim_cli(["run", scenario, "--out", "run", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "run" / "report.html"
    first = page.read_bytes()
    page.unlink()
    proc = gamesim_cli(["view", "run"], tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "run/report.html\n", "")
    assert page.read_bytes() == first  # from the saved files, the same bytes
    proc = gamesim_cli(["run", scenario, "--out", "bare", "--quiet", "--no-plots"], tmp_path)
    assert not (tmp_path / "bare" / "report.html").exists()  # the page comes with the plots
    # a sweep writes its own page, and none per point unless asked
    (tmp_path / "sw.toml").write_text(SWEEP)
    proc = gamesim_cli(["sweep", "sw.toml", "--out", "sw", "--jobs", "1", "--point-dirs", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    points = [d for d in (tmp_path / "sw").iterdir() if d.is_dir()]
    assert len(points) == 4 and (tmp_path / "sw" / "report.html").is_file()  # 2 refused
    assert not any((d / "report.html").exists() for d in points)
    proc = gamesim_cli(["view", "missing"], tmp_path)
    assert_one_line_error(proc, 2, "missing: no such run directory")


def test_the_reproduce_report_page_shows_every_check_and_figure(browser, tmp_path):
    from gamesim import literature, reproduction

    folder, rows = reproduction.reproduce(tmp_path / "r", quick=True, checks=(
        literature.arjovsky_example_1, literature.goodfellow_proposition_1))
    page = browser.new_page()
    errors, remote = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
               else (remote.append(route.request.url), route.abort()))
    try:
        page.goto(f"file://{os.path.join(folder, 'report.html')}")
        shown = page.evaluate("() => [document.querySelectorAll('#checks tr').length - 1,"
                              " [...document.images].map(i => i.complete && i.naturalWidth),"
                              " document.getElementById('count').textContent]")
        assert shown[0] == len(rows) == 8
        assert len(shown[1]) == 2 and all(w > 500 for w in shown[1])  # both figures drawn
        assert shown[2] == "8 of 8 checks pass"
        assert errors == [] and remote == []
    finally:
        page.close()
