"""The ``samples`` target: a 1D sample read from a data file, put on the grid.

Files (named relative to the scenario file's folder): CSV (a column by header name or 0-based
index; the first row is a header when none of its fields is a number), NPY (``numpy.save``
output of a numeric array, 1D or 2D with a column index, read with ``allow_pickle=False``) or
plain text (one value per line; blank lines and lines starting with ``#`` are skipped).
Lines and columns in error messages count from 1, as editors and spreadsheets show them.

``histogram``: cell k is [e_k, e_{k+1}) and the last cell also takes the grid's upper edge, so
a point on an interior edge belongs to the cell on its right; masses are counts / n.
``kde``: exact cell integrals of the Gaussian kernel density estimate (1/n) sum_j
N(x_j, bw^2); bandwidth rules as scipy.stats.gaussian_kde defines them: the sample standard
deviation (ddof = 1) times n^(-1/5) (Scott) or (3n/4)^(-1/5) (Silverman). The KDE's tails
beyond the grid are reported as mass outside, like a formula target's. It costs one erfc per
sample point and cell edge within 40 bandwidths of the point (about 3 s for 10^5 points on 2048
cells all within reach); a histogram costs O(n log N).

A sample point outside [lower, upper] is an error unless ``clip = true``: then the estimate is
cut at the grid's edges (a histogram leaves those points out, a KDE its mass beyond the edges),
the share cut off is reported as mass outside the grid and the rest renormalized.
"""

import csv
import math
import os
import pathlib
import stat

import numpy as np
from numba import njit

import gamesim

INV_SQRT2 = 1.0 / math.sqrt(2.0)
# erfc(z / sqrt 2) underflows to exactly 0 beyond z = 38.5: a kernel adds nothing to cells
# farther than this many bandwidths, so skipping them changes no bit of the result
CUTOFF = 40.0
NPY_MAGIC = b"\x93NUMPY"


@njit(cache=True)
def _kde_cells(sample, bw, lower, h, edges, out):
    """Fill ``out`` with the sum over sample points of each point's kernel mass N(x_j, bw^2)
    per cell (n times the KDE's cell masses); return the same sum of the mass beyond the grid.

    Differences of the CDF left of a point and of the survival function right of it, so no
    representable tail mass rounds to 0.
    """
    n_cells = out.size
    out[:] = 0.0
    outside = 0.0
    for j in range(sample.size):
        x = sample[j]
        # one cell more on each side: with a bandwidth far below the cell width, x +- CUTOFF
        # bw rounds to x, and a point on an edge would fall between the two cells it straddles
        k0 = int(min(max(math.floor((x - CUTOFF * bw - lower) / h) - 1.0, 0.0), n_cells))
        k1 = int(min(max(math.ceil((x + CUTOFF * bw - lower) / h) + 1.0, 0.0), n_cells))
        z_prev = (edges[k0] - x) / bw
        # the smaller of CDF and survival function at an edge: a single erfc gives every term
        # below from its accurate tail
        tail_prev = 0.5 * math.erfc(abs(z_prev) * INV_SQRT2)
        for k in range(k0, k1):
            z = (edges[k + 1] - x) / bw
            tail = 0.5 * math.erfc(abs(z) * INV_SQRT2)
            if z <= 0.0:  # the cell is left of the point: CDF differences
                out[k] += tail - tail_prev
            elif z_prev >= 0.0:  # right of it: survival function differences
                out[k] += tail_prev - tail
            else:  # it holds the point: 1 - CDF(left edge) - SF(right edge)
                out[k] += 1.0 - tail_prev - tail
            z_prev, tail_prev = z, tail
        outside += 0.5 * math.erfc(-(edges[0] - x) / bw * INV_SQRT2)
        outside += 0.5 * math.erfc((edges[n_cells] - x) / bw * INV_SQRT2)
    return outside


def _number(text):
    """``text`` as a float (NaN and inf included), or None when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def _field_name(header, i):
    return f"column {i + 1} ({header[i]!r})" if header else f"column {i + 1}"


def _check_finite(values, where, path):
    """Reject NaN and inf: say how many and where the first one is (``where[i]`` names it)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise gamesim.ParameterError("path", f"{path}: {bad.size} value(s) NaN or infinite, the "
                                             f"first at {where(bad[0])}: {float(values[bad[0]])}; "
                                             f"remove or impute them")


def _rows_to_values(path, rows, header, index):
    """Column ``index`` of ``rows`` ((line number, fields) pairs) as checked finite floats."""
    values = np.empty(len(rows))
    for i, (line, row) in enumerate(rows):
        if index >= len(row):
            raise gamesim.ParameterError("path", f"{path}: line {line} has {len(row)} field(s), "
                                                 f"no {_field_name(header, index)}")
        value = _number(row[index])
        if value is None:
            raise gamesim.ParameterError("path", f"{path}: line {line}, "
                                                 f"{_field_name(header, index)}: got "
                                                 f"{row[index]!r}, expected a number")
        values[i] = value
    _check_finite(values, lambda i: f"line {rows[i][0]}, {_field_name(header, index)}", path)
    return values


def _csv_rows(path):
    """(line number, fields) of each CSV row with a non-blank field; the first row is the
    header (stripped fields) when none of its fields is a number: (header or None, rows)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        rows = [(reader.line_num, row) for row in reader if any(field.strip() for field in row)]
    if rows and all(_number(field) is None for field in rows[0][1]):
        return [field.strip() for field in rows[0][1]], rows[1:]
    return None, rows


def _csv_head(path):
    """What ``_csv_rows`` gives, reading only up to the first data row: (header or None, the
    header's line number or 0, [first data row] or [])."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header, header_line = None, 0
        for row in reader:
            if not any(field.strip() for field in row):
                continue
            if header is None and not header_line and all(_number(x) is None for x in row):
                header, header_line = [field.strip() for field in row], reader.line_num
                continue
            return header, header_line, [(reader.line_num, row)]
    return header, header_line, []


def _csv_index(path, header, rows, column, index):
    """The 0-based column to read, from ``column`` or ``index`` (the only column by default);
    ``rows`` holds at least the first data row."""
    if not rows:
        raise gamesim.ParameterError("path", f"{path}: " + ("has a header but no values"
                                                            if header else "is empty: no values"))
    if column is not None:
        if header is None:
            raise gamesim.ParameterError("column", f"{path}: has no header row (line "
                                                   f"{rows[0][0]} is data), so no column named "
                                                   f"{column!r}; choose one by index")
        if column not in header:
            raise gamesim.ParameterError("column", f"{path}: no column {column!r}; the header "
                                                   f"has {', '.join(map(repr, header))}")
        return header.index(column)
    if index is None:
        width = len(header or rows[0][1])
        if width != 1:
            names = f" ({', '.join(map(repr, header))})" if header else ""
            raise gamesim.ParameterError("column", f"{path}: has {width} columns{names}; choose "
                                                   f"one with column = NAME or index = N (from 0)")
        return 0
    return index


def _read_csv(path, column, index):
    """NumPy's C parser reads the column; only when it fails, or finds a NaN or inf, does a
    row-by-row pass with the csv module locate the problem by line and column."""
    header, header_line, first = _csv_head(path)
    index = _csv_index(path, header, first, column, index)
    try:
        values = np.loadtxt(path, dtype=np.float64, delimiter=",", usecols=index,
                            skiprows=header_line, comments=None, quotechar='"', ndmin=1,
                            encoding="utf-8-sig")
    except ValueError:
        values = None
    if values is not None and np.isfinite(values).all():
        return values
    header, rows = _csv_rows(path)
    return _rows_to_values(path, rows, header, index)


def _read_text(path):
    with open(path, encoding="utf-8-sig") as f:
        rows = [(n, [line.strip()]) for n, line in enumerate(f, 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise gamesim.ParameterError("path", f"{path}: is empty: no values")
    return _rows_to_values(path, rows, None, 0)


def _read_npy(path, index):
    with open(path, "rb") as f:
        magic = f.read(len(NPY_MAGIC))
    problem = None
    if not magic:
        problem = "is empty: no values"
    elif magic[:1] == b"\x80":  # every pickle of protocol 2 or later starts so
        problem = "is a Python pickle, not an NPY file"
    elif magic[:4] == b"PK\x03\x04":
        problem = "is an NPZ archive; save the one array with numpy.save"
    elif magic != NPY_MAGIC:
        problem = "is not an NPY file (no NPY header)"
    if problem is None:
        problem = _npy_size_problem(path)
    if problem is None:
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as err:
            problem = ("holds Python objects (pickled), which gamesim never loads "
                       "(allow_pickle=False); save a numeric array" if "pickle" in str(err)
                       else f"is not a readable NPY file: {err}")
        except (EOFError, OSError) as err:
            problem = f"is truncated or not a readable NPY file: {err}"
    if problem is not None:
        raise gamesim.ParameterError("path", f"{path}: {problem}")
    if arr.ndim == 2:
        if index is None and arr.shape[1] != 1:
            raise gamesim.ParameterError("index", f"{path}: holds a {arr.shape[0]} x "
                                                  f"{arr.shape[1]} array; choose a column with "
                                                  f"index = N (from 0)")
        index = index or 0
        if index >= arr.shape[1]:
            raise gamesim.ParameterError("index", f"{path}: got {index}, but the array has only "
                                                  f"{arr.shape[1]} column(s)")
        arr = arr[:, index]
    elif arr.ndim != 1:
        raise gamesim.ParameterError("path", f"{path}: holds a {arr.ndim}D array of shape "
                                             f"{arr.shape}, expected 1D (or 2D with index)")
    elif index is not None:
        raise gamesim.ParameterError("index", f"{path}: holds a 1D array, a single column; "
                                              f"leave out index")
    if arr.dtype.kind not in "iuf":
        raise gamesim.ParameterError("path", f"{path}: holds {arr.dtype} values, expected numbers")
    if arr.size == 0:
        raise gamesim.ParameterError("path", f"{path}: holds an empty array: no values")
    values = arr.astype(np.float64)
    _check_finite(values, lambda i: f"index {i}", path)
    return values


def _npy_size_problem(path):
    """What is wrong with an NPY file whose header promises more data than the file holds
    (np.load would fail with a raw error, or allocate what the header claims), or None."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                return None  # a newer version: np.load checks it
            shape, _, dtype = read_header(f)
            start = f.tell()
    except (ValueError, EOFError) as err:
        return f"is not a readable NPY file: {err}"
    if dtype.hasobject:
        return None  # np.load refuses pickled objects with its own message
    need = math.prod(shape) * dtype.itemsize
    have = os.path.getsize(path) - start
    if have < need:
        return (f"is truncated: its header promises a {dtype} array of shape {shape} "
                f"({need} bytes of data) but the file holds {have} bytes")
    return None


SUFFIXES = {".csv": "csv", ".npy": "npy"}


def _read(path, fmt, column, index):
    """The sample in ``path``; every problem with the file is a ParameterError naming it."""
    try:
        mode = os.stat(path).st_mode
        # checked before opening: a FIFO would block and a device such as /dev/zero never ends
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise gamesim.ParameterError("path", f"{path}: not a regular file (expected a data "
                                                 f"file: CSV, NPY or text)")
        if fmt == "csv":
            return _read_csv(path, column, index)
        return _read_npy(path, index) if fmt == "npy" else _read_text(path)
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "is a directory, expected a data file"
    except UnicodeDecodeError:
        problem = f"is not a UTF-8 text file (read as format {fmt!r})"
    except csv.Error as err:
        problem = f"is not readable as CSV: {err}"
    except OSError as err:
        problem = f"cannot read: {err.strerror}"
    raise gamesim.ParameterError("path", f"{path}: {problem}")


def _rule_bandwidth(sample, rule, path):
    """Scott's or Silverman's factor times the sample standard deviation (ddof = 1), as
    scipy.stats.gaussian_kde computes them in one dimension."""
    n = sample.size
    std = float(np.std(sample, ddof=1)) if n >= 2 else 0.0
    if not std > 0:
        raise gamesim.ParameterError(
            "rule", f"{path}: the {rule!r} bandwidth rule needs at least 2 distinct values, the "
                    f"sample has {n} value(s){' all equal' if n >= 2 else ''}; give bandwidth = "
                    f"a number instead")
    return std * (n ** -0.2 if rule == "scott" else (0.75 * n) ** -0.2)


class Samples:
    """A 1D sample read from a data file, put on the grid as a histogram or a Gaussian KDE."""

    name = "samples"
    path: pathlib.Path = gamesim.param(help="data file (CSV, NPY or text, one value a line)")
    format: str = gamesim.param("auto", choices=("auto", "csv", "npy", "text"),
                                help="file format; auto: by suffix (.csv, .npy, else text)")
    column: str = gamesim.param(None, help="CSV: header name of the column to read")
    index: int = gamesim.param(None, ge=0, help="CSV or 2D NPY: 0-based index of the column "
                                                "(needed when there are several)")
    method: str = gamesim.param("kde", choices=("kde", "histogram"),
                                help="Gaussian KDE (exact cell integrals) or counts / n")
    rule: str = gamesim.param("scott", choices=("scott", "silverman"),
                              help="KDE bandwidth rule, as scipy.stats.gaussian_kde's")
    bandwidth: float = gamesim.param(None, gt=0, help="KDE kernel standard deviation in data "
                                                      "units, instead of the rule (scipy's "
                                                      "numeric bw_method is a factor, not this)")
    clip: bool = gamesim.param(False, help="cut the estimate at the grid's edges (reported as "
                                           "mass outside) instead of rejecting points outside")

    def validate(self):
        if self.column is not None and self.index is not None:
            raise gamesim.ParameterError("index", "give column or index, not both")
        if self.bandwidth is not None and self.method != "kde":
            raise gamesim.ParameterError("bandwidth", "only used with method = 'kde'")
        if self.bandwidth is not None and self.rule != "scott":
            raise gamesim.ParameterError("bandwidth", f"give bandwidth or rule = "
                                                      f"{self.rule!r}, not both")
        fmt = self.format if self.format != "auto" else \
            SUFFIXES.get(self.path.suffix.lower(), "text")
        if self.column is not None and fmt != "csv":
            raise gamesim.ParameterError("column", f"names a CSV header field, but {self.path} "
                                                   f"is read as {fmt!r}; use index")
        if self.index is not None and fmt == "text":
            raise gamesim.ParameterError("index", f"{self.path} is read as 'text', one value a "
                                                  f"line: leave out index")
        self.sample = _read(self.path, fmt, self.column, self.index)
        if self.method == "kde":
            self.bw = self.bandwidth if self.bandwidth is not None else \
                _rule_bandwidth(self.sample, self.rule, self.path)

    def masses(self, grid):
        x = self.sample
        below, above = x < grid.lower, x > grid.upper
        n_out = int(below.sum() + above.sum())
        if n_out and not self.clip:
            where = []
            if below.any():
                where.append(f"{below.sum()} below {grid.lower:g} (smallest {x.min():g})")
            if above.any():
                where.append(f"{above.sum()} above {grid.upper:g} (largest {x.max():g})")
            raise gamesim.GamesimError(
                f"{self.path}: {n_out} of {x.size} sample points lie outside the grid "
                f"[{grid.lower:g}, {grid.upper:g}]: {' and '.join(where)}; widen [grid] or set "
                f"clip = true in the target's table")
        if self.method == "histogram":
            cell = np.searchsorted(grid.edges, x, side="right") - 1
            cell[x == grid.upper] = grid.points - 1  # the last cell is closed on the right
            counts = np.bincount(cell[~(below | above)], minlength=grid.points)
            return counts / max(x.size - n_out, 1), n_out / x.size
        out = np.empty(grid.points)
        outside = _kde_cells(x, self.bw, grid.lower, grid.h, grid.edges, out)
        inside = out.sum()
        return (out / inside, outside / x.size) if inside > 0 else (out, 1.0)

    def draw(self, rng, n):
        """n data points for sampled training: the raw sample resampled with replacement,
        plus N(0, bandwidth^2) noise for the KDE (a draw from the estimate itself). With
        ``clip``, only points inside the grid are resampled (set by ``setup``)."""
        x = rng.choice(self.inside, size=n, replace=True)
        return x + rng.normal(0.0, self.bw, n) if self.method == "kde" else x

    def setup(self, grid):
        self.inside = self.sample[(self.sample >= grid.lower) & (self.sample <= grid.upper)]


@gamesim.hookimpl
def gamesim_register_targets(register):
    register(Samples)
