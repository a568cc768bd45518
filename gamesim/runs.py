"""A run's results in Python: as it finished in memory, or read back from its directory."""

import base64
import html
import io
import os
import shutil

import numpy as np

from . import engine, plugins as plugin_manager, results
from .errors import GamesimError, did_you_mean


class Run(results.RunData):
    """One run of a scenario, as ``gamesim.run`` returns it and ``gamesim.load_run`` reads it.

    ``status``, ``scenario`` (the resolved scenario table, every default filled in),
    ``summary`` (as summary.json), ``metrics`` (column name -> float64 array, as metrics.csv),
    ``snapshots`` (name -> array, as snapshots.npz), ``final`` (the last row) and
    ``warnings``; ``path`` is the run
    directory it was read from or first saved to (None before). Plotting functions of
    :mod:`gamesim.plotting` take a Run as they take a :class:`~gamesim.results.RunData`.
    """

    _sc = _result = None  # the scenario and engine result of a run simulated in this process
    plot_messages = ()  # lines about the plots last drawn: kinds that do not apply, notes

    @classmethod
    def simulate(cls, sc, progress=None, reservation=None, plots=True, page=True):
        """Run the validated scenario ``sc``; with a :class:`~gamesim.results.Reservation`
        (taken before simulating), write the run directory there, with its plots if
        ``plots`` and with them its page (report.html) if ``page``. ``progress``: a
        :class:`~gamesim.progress.Progress` or None."""
        try:
            result = engine.run(sc, progress, observers=plugin_manager.observers())
        finally:
            if progress is not None:
                progress.close()
        self = cls.__new__(cls)  # the view RunData reads from files, from memory instead
        self.path, self.scenario = None, sc.resolved
        self.summary = results.summary_of(sc, result)
        rows = np.array(result.rows, dtype=float).reshape(-1, len(result.columns))
        self.columns = {name: rows[:, i] for i, name in enumerate(result.columns)}
        self.snapshots = results.snapshot_arrays(sc, result)
        self._sc, self._result = sc, result
        if reservation is not None:
            self._write(reservation, plots, page)
        return self

    @property
    def metrics(self):
        return self.columns

    @property
    def status(self):
        return self.summary["status"]

    @property
    def final(self):
        """The last recorded row: column name -> number (the iteration an int)."""
        return {k: float(v) if isinstance(v, str) else v  # summary.json spells inf and nan
                for k, v in self.summary.get("final", {}).items()}

    @property
    def warnings(self):
        return list(self.summary.get("warnings", []))

    def save(self, path, plots=True):
        """Write the run directory ``path`` whole (refused if it exists, as ``--out``); return
        its absolute path. A simulated run's metrics.csv and snapshots.npz are byte-identical
        to the command line's for the same scenario; a run read back is copied as it is."""
        with results.reserve(path) as reservation:
            return self._write(reservation, plots)

    def _write(self, reservation, plots, page=True):
        if self._sc is None:
            ignore = shutil.ignore_patterns("*" + results.PARTIAL, *(() if plots else ("plots",)))
            shutil.copytree(self.path, reservation.tmp, dirs_exist_ok=True, ignore=ignore)
        else:
            sc = self._sc

            def draw(directory):  # from the files just written, as `gamesim plot` draws them
                from . import plotting

                saved = results.RunData(directory)
                self.plot_messages = plotting.save_plots(saved, sc.plots, directory,
                                                         sc.plot_format).messages()
                if page:
                    from . import page as pages

                    pages.write_run_page(directory, run=saved)

            reservation.write(sc, self._result, draw if plots else None)
        final = reservation.commit()
        self.path = self.path or final
        return final

    def plot(self, kind="convergence"):
        """The Matplotlib Figure of one plot kind (those the command line draws, but the
        animation, which is only a file)."""
        from . import plotting

        kinds = [k for k, (_, make) in plotting.KINDS.items() if make is not None]
        if kind not in kinds:
            raise GamesimError(f"plot kind {kind!r}{did_you_mean(kind, kinds)}: expected one "
                               f"of {', '.join(kinds)} (the animation is written by save())")
        applies, make = plotting.KINDS[kind]
        if not applies(self):
            usable = [k for k in kinds if plotting.KINDS[k][0](self)]
            raise GamesimError(f"plot kind {kind!r} does not apply to run "
                               f"{self.summary.get('name')!r}; it has {', '.join(usable)}")
        return make(self)

    def to_pandas(self):
        """The metrics as a pandas DataFrame indexed by iteration (pandas is not a dependency
        of gamesim)."""
        try:
            import pandas
        except ImportError:
            raise GamesimError("Run.to_pandas needs pandas, which gamesim does not install: "
                               "pip install pandas") from None
        index = pandas.Index(self.metrics["iteration"].astype(np.int64), name="iteration")
        return pandas.DataFrame({k: v for k, v in self.metrics.items() if k != "iteration"},
                                index=index)

    def __repr__(self):
        return (f"<Run {self.summary.get('name')!r}: {self.status} after "
                f"{self.summary.get('iterations')} iterations>")

    def _repr_html_(self):
        """Notebook view: status, final metrics and the convergence figure as a PNG."""
        from . import plotting

        figure = io.BytesIO()
        self.plot("convergence").savefig(figure, format="png", dpi=72,
                                         metadata=plotting.METADATA["png"])
        image = base64.b64encode(figure.getvalue()).decode("ascii")
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{_shown(v)}</td></tr>"
                        for k, v in self.summary.get("final", {}).items() if k != "iteration")
        notes = "".join(f"<li>warning: {html.escape(w)}</li>" for w in self.warnings)
        where = f" ({html.escape(os.fspath(self.path))})" if self.path else ""
        return (f"<div><p><b>{html.escape(str(self.summary.get('name')))}</b>: "
                f"{html.escape(self.status)} after {self.summary.get('iterations')} "
                f"iterations{where}</p><ul>{notes}</ul><table>{cells}</table>"
                f'<img src="data:image/png;base64,{image}" alt="convergence"/></div>')


def _shown(value):
    return f"{value:.6g}" if isinstance(value, (int, float)) else html.escape(str(value))
