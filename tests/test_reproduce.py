"""gamesim reproduce: the literature checks, their report, and the exit status when one fails."""

import json
import pathlib

import pytest

from gamesim import literature, reproduction


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    return reproduction.reproduce(tmp_path_factory.mktemp("r") / "report", quick=True)


def test_every_quick_check_passes_and_is_reported(quick_report):
    folder, rows = quick_report
    assert len(rows) >= 30 and all(r.passed for r in rows), [r for r in rows if not r.passed]
    folder = pathlib.Path(folder)
    text = (folder / "report.md").read_text()
    assert f"{len(rows)} of {len(rows)} checks pass" in text
    assert text.count("| pass |") == len(rows)
    data = json.loads((folder / "report.json").read_text())
    assert data["quick"] is True and len(data["checks"]) == len(rows)
    figures = {r.figure for r in rows if r.figure}
    assert figures and all((folder / "figures" / f).read_bytes()[:4] == b"\x89PNG"
                           for f in figures)


def test_papers_and_claims_are_covered(quick_report):
    _, rows = quick_report
    claims = " ".join(r.paper + " " + r.claim for r in rows)
    for needed in ("Proposition 1", "Theorem 1", "Example 1", "fitted order", "closed form",
                   "minibatch"):
        assert needed in claims


def broken(quick):
    """A check whose claim is false: 1 + 1 = 3 within 1e-9."""
    return [literature.row("nobody", "1 + 1 = 3", 3.0, 2.0, 1e-9)], None


def test_a_failing_check_is_reported_as_failed(tmp_path):
    folder, rows = reproduction.reproduce(tmp_path / "r", quick=True,
                                       checks=(literature.arjovsky_example_1, broken))
    assert [r.passed for r in rows][-1] is False and all(r.passed for r in rows[:-1])
    text = (pathlib.Path(folder) / "report.md").read_text()
    assert f"{len(rows) - 1} of {len(rows)} checks pass" in text and "**FAIL**" in text
