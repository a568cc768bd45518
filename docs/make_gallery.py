"""Regenerate docs/gallery.md: one picture per scenario in scenarios/, drawn by gamesim itself.

    python docs/make_gallery.py [--scenarios scenarios] [--out docs]

Each scenario is run into a temporary folder with its plots; the gallery keeps its phase
portrait where it has one (two-parameter games), else its density snapshots. Scenarios with a
[sweep] table are passed over (a sweep is many runs).
"""

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import tomllib

from gamesim.cli import main as gamesim

PREFERENCE = ("phase", "densities")


def picture(run_dir):
    """The figure that shows a run best: the first of PREFERENCE it has."""
    for kind in PREFERENCE:
        path = os.path.join(run_dir, "plots", f"{kind}.png")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{run_dir}: no plot among {PREFERENCE}")


def gallery(scenario_paths, out_dir):
    """Run each scenario, copy its picture to OUT/gallery/NAME.png; return the page's text."""
    images = os.path.join(out_dir, "gallery")
    os.makedirs(images, exist_ok=True)
    sections = []
    with tempfile.TemporaryDirectory() as work:
        for path in scenario_paths:
            with open(path, "rb") as f:
                if "sweep" in tomllib.load(f):
                    continue
            name = os.path.splitext(os.path.basename(path))[0]
            run_dir = os.path.join(work, name)
            plots = '--set=output.plots=["convergence", "densities", "phase"]'
            if gamesim(["run", path, "--out", run_dir, "--quiet", plots]) != 0:
                raise RuntimeError(f"{path}: gamesim run failed")
            shutil.copyfile(picture(run_dir), os.path.join(images, f"{name}.png"))
            with open(os.path.join(run_dir, "summary.json")) as f:
                summary = json.load(f)
            final = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in summary["final"].items()
                              if k in ("value", "js", "w1", "tv", "d_max_dev"))
            sections.append(
                f"## {name}\n\n{summary['description']}\n\n"
                f"`gamesim run scenarios/{os.path.basename(path)}`: {summary['status']} after "
                f"{summary['iterations']} iterations; {final}.\n\n"
                f"![{name}](gallery/{name}.png)\n")
    return ("# Gallery\n\nOne picture per scenario in `scenarios/`, drawn by gamesim. "
            "Regenerate them all with `python docs/make_gallery.py`.\n\n" + "\n".join(sections))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="scenarios")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(args.scenarios, "*.toml")))
    text = gallery(paths, args.out)
    with open(os.path.join(args.out, "gallery.md"), "w") as f:
        f.write(text)
    print(f"wrote {os.path.join(args.out, 'gallery.md')} ({len(paths)} scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
