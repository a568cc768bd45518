"""Compare every scenario's metrics.csv and snapshots.npz between two run-directory roots.

A faster path must give the same numbers: byte-identical files, or, where an algebraic
rewrite changes the last bits, every number equal within 1e-12 absolute plus 1e-9 relative
(NaN matching NaN, infinities matching in sign); for the chaotic scenarios, whose
trajectories separate from any rounding difference, over the rows and snapshots of the
first 50 iterations only (CHAOTIC lists them). Each root holds ``<scenario>/metrics.csv`` and
``<scenario>/snapshots.npz``, as ``gamesim run SCENARIO --out ROOT/SCENARIO`` writes them
(old code: ``git archive HEAD | tar -x -C /tmp/gs_head``, ``ln -s plugins
/tmp/gs_head/gamesim_plugins`` (an editable install maps that package to the repository's
plugins/) and PYTHONPATH=/tmp/gs_head from a folder outside the repository; new code after
deleting the ``__pycache__`` folders if gamesim/vecmath.py changed, since Numba's cache does
not notice a change in the functions other modules' kernels inline).

    python benchmarks/compare_runs.py OLD_ROOT NEW_ROOT

Prints one line per scenario (identical, within tolerance with the largest differences and
the columns or arrays that changed, or DIFFERS) and exits 1 if any scenario differs or is
missing from one root.
"""

import argparse
import csv
import os
import sys

import numpy as np

ABS, REL = 1e-12, 1e-9
CHAOTIC = {"mlp-gan", "gan-sampled", "dirac-gan-simultaneous",
           # adversarial or MMD-trained networks under Adam whose end state moves as much when
           # one learning rate is changed by one ulp (measured: wgan-gp's value by 1.1,
           # old-faithful-mlp-gan's by 0.06, wgan-clip's by 7e-9, gmmn-exact's transform by
           # 3e-10), so any rounding difference does
           "old-faithful-mlp-gan", "wgan-gp", "wgan-clip", "gmmn-exact"}
CHAOTIC_ITERATIONS = 50
FILES = ("metrics.csv", "snapshots.npz")


def _numbers(cells):
    return np.array([float(c) if c != "" else np.nan for c in cells], dtype=float)


def close(a, b):
    """(all within tolerance, largest absolute difference among finite pairs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return False, np.inf
    same_special = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    finite = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(np.subtract(a, b, where=finite, out=np.zeros(a.shape)))
    ok = same_special | (finite & (diff <= ABS + REL * np.abs(a)))
    return bool(ok.all()), float(diff.max(initial=0.0))


def compare_metrics(old, new, until):
    """[(column, largest difference)] of the columns that differ, and whether all are within
    tolerance, over the rows of iteration <= ``until`` (None: all)."""
    with open(old, newline="") as f:
        a = list(csv.reader(f))
    with open(new, newline="") as f:
        b = list(csv.reader(f))
    if a[0] != b[0]:
        return [("header", np.inf)], False
    rows_a = [r for r in a[1:] if until is None or int(r[0]) <= until]
    rows_b = [r for r in b[1:] if until is None or int(r[0]) <= until]
    if len(rows_a) != len(rows_b):
        return [("rows", np.inf)], False
    changed, ok = [], True
    for i, name in enumerate(a[0]):
        col_a, col_b = [r[i] for r in rows_a], [r[i] for r in rows_b]
        if col_a != col_b:
            within, worst = close(_numbers(col_a), _numbers(col_b))
            changed.append((name, worst))
            ok &= within
    return changed, ok


def compare_snapshots(old, new, until):
    """As :func:`compare_metrics` for the arrays of snapshots.npz; arrays with a row per
    snapshot are compared over the snapshots of iteration <= ``until``."""
    with np.load(old) as za, np.load(new) as zb:
        if set(za.files) != set(zb.files):
            return [("files", np.inf)], False
        its = za["iterations"]
        if not np.array_equal(its, zb["iterations"]):
            return [("iterations", np.inf)], False
        keep = np.ones(its.size, bool) if until is None else its <= until
        changed, ok = [], True
        for key in sorted(za.files):
            a, b = za[key], zb[key]
            if a.shape == b.shape and a.ndim >= 1 and a.shape[0] == its.size and \
                    key != "iterations":
                a, b = a[keep], b[keep]
            if a.dtype != b.dtype or a.shape != b.shape:
                changed.append((key, np.inf))
                ok = False
            elif a.tobytes() != b.tobytes():
                within, worst = close(a, b)
                changed.append((key, worst))
                ok &= within
        return changed, ok


def compare(old_root, new_root):
    """{scenario: (verdict, [(column or array, largest difference)])}."""
    names = sorted(set(os.listdir(old_root)) | set(os.listdir(new_root)))
    report = {}
    for name in names:
        old, new = os.path.join(old_root, name), os.path.join(new_root, name)
        if not all(os.path.isfile(os.path.join(d, f)) for d in (old, new) for f in FILES):
            report[name] = ("MISSING", [])
            continue
        identical = all(open(os.path.join(old, f), "rb").read() ==
                        open(os.path.join(new, f), "rb").read() for f in FILES)
        if identical:
            report[name] = ("identical", [])
            continue
        until = CHAOTIC_ITERATIONS if name in CHAOTIC else None
        m_changed, m_ok = compare_metrics(os.path.join(old, FILES[0]),
                                          os.path.join(new, FILES[0]), until)
        s_changed, s_ok = compare_snapshots(os.path.join(old, FILES[1]),
                                            os.path.join(new, FILES[1]), until)
        verdict = "within tolerance" if m_ok and s_ok else "DIFFERS"
        if verdict != "DIFFERS" and until is not None:
            verdict += f" (first {until} iterations)"
        report[name] = (verdict, m_changed + s_changed)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_root")
    parser.add_argument("new_root")
    args = parser.parse_args(argv)
    report = compare(args.old_root, args.new_root)
    width = max(map(len, report), default=0)
    for name, (verdict, changed) in report.items():
        detail = ", ".join(f"{key} {worst:.1e}" for key, worst in changed)
        print(f"{name:<{width}}  {verdict}" + (f": {detail}" if detail else ""))
    return 1 if any(v in ("DIFFERS", "MISSING") for v, _ in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
