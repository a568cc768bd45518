"""Command line: ``gamesim run | sweep | validate | plot | compare | view | analyze |
reproduce | plugins``.

Exit status 0 when the simulation ran (a diverged game is a result), 2 for bad input, 3 when
a literature check of ``gamesim reproduce`` fails, 1 for
anything unexpected (a plugin failing during a run, an operating-system error), 128 + N after
signal N; always one line on stderr. Set GAMESIM_TRACEBACK=1 for full tracebacks.
"""

import argparse
import errno
import os
import sys
import traceback

from . import __version__, interrupts
from .errors import GamesimError, did_you_mean


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise GamesimError(f"usage: {message} (see 'gamesim {self.prog.split()[-1]} --help')"
                           if " " in self.prog else f"usage: {message}")


def _parser():
    parser = _Parser(prog="gamesim", description="Simulate the GAN minimax game on 1D grids.")
    parser.add_argument("--version", action="version", version=f"gamesim {__version__}",
                        help="print gamesim's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="COMMAND", help="what to do (gamesim COMMAND --help "
                                                        "describes each)")
    run = sub.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", help="scenario file (.toml); one with a [sweep] table runs "
                                      "as gamesim sweep")
    run.add_argument("--out", help="run directory (default runs/<name>, numbered if taken)")
    _scenario_options(run)
    run.add_argument("--no-plots", action="store_true", help="write no figures")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sweep = sub.add_parser("sweep", help="run every point of a scenario's [sweep] table")
    sweep.add_argument("scenario", help="scenario file (.toml) with a [sweep] table")
    sweep.add_argument("--out", help="sweep directory (default runs/<name>-sweep, numbered if taken)")
    _scenario_options(sweep)
    sweep.add_argument("--jobs", type=int, help="local worker processes (default: all cores)")
    sweep.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="where the points run: local processes or a Dask cluster "
                            "(default local)")
    sweep.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    sweep.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="how long to wait for the Dask scheduler to answer (default 10)")
    sweep.add_argument("--point-dirs", action="store_true",
                       help="also write each point's run directory (metrics.csv, "
                            "snapshots.npz, summary.json, scenario.toml), named by its row's "
                            "run column; implied by --plots and --point-pages")
    sweep.add_argument("--plots", action="store_true",
                       help="also draw each point's figures (in its run directory)")
    sweep.add_argument("--point-pages", action="store_true",
                       help="also write each point's page (report.html in its run directory, "
                            "about 5 MB each) and link it from the sweep's page")
    sweep.add_argument("--metric", help="final metric of the sweep plot (default js, w1, tv "
                                        "or value, the first recorded)")
    sweep.add_argument("--quiet", action="store_true", help="print nothing but errors")
    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+", metavar="scenario",
                          help="scenario files (.toml), each checked and reported")
    _scenario_options(validate)
    plot = sub.add_parser("plot", help="redraw the plots of a saved run without simulating")
    plot.add_argument("run_dir", help="a run directory written by gamesim run")
    plot.add_argument("--format", choices=("png", "svg", "pdf"),
                      help="file format (default: the run's [output] format)")
    compare = sub.add_parser("compare", help="overlay several runs' convergence curves")
    compare.add_argument("run_dirs", nargs="+", metavar="run_dir",
                         help="run directories written by gamesim run")
    compare.add_argument("--metric", help="metrics.csv column to compare (default: the first "
                                          "distance all runs recorded, else value)")
    compare.add_argument("--out", help="figure file (default compare-METRIC.png); its "
                                       "extension (.png, .svg, .pdf) sets the format")
    view = sub.add_parser("view", help="(re)write the interactive page of a run or sweep "
                                       "directory (report.html) from its saved files")
    view.add_argument("directory", help="a run directory, or a sweep directory (sweep.csv)")
    view.add_argument("--open", action="store_true", help="open the page in the web browser")
    view.add_argument("--point-pages", action="store_true",
                      help="sweeps: also write each point's page and link it")
    analyze = sub.add_parser("analyze", help="the local stability analysis of a saved run "
                                             "(writes its stability.json)")
    analyze.add_argument("run_dir", help="a run directory written by gamesim run")
    analyze.add_argument("--at", action="append", metavar="PLACE", type=_place,
                         help="end (default), start, snapshots or an iteration number "
                              "(repeatable)")
    reproduce = sub.add_parser("reproduce", help="run the literature checks shipped with "
                                                 "gamesim and write report.md")
    reproduce.add_argument("--out", help="report folder (default runs/reproduce, numbered if "
                                         "taken)")
    reproduce.add_argument("--quick", action="store_true",
                           help="smaller grids and shorter runs (within a minute)")
    plugins = sub.add_parser("plugins", help="list installed plugins and their parameters")
    plugins.add_argument("kind", nargs="?", help="list only this kind: target, generator, "
                                                 "discriminator, objective, distance, "
                                                 "optimizer or regularizer (or its plural)")
    plugins.add_argument("name", nargs="?", help="show only this plugin of KIND: its "
                                                 "parameters and full documentation")
    plugins.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                         help="import an extra plugin module (repeatable)")
    return parser


def _place(text):
    """An --at value: end, start, snapshots or an iteration number."""
    if text in ("end", "start", "snapshots"):
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"got {text!r}, expected 'end', 'start', 'snapshots' or "
                                     f"an iteration number")


def _scenario_options(command):
    """--set and -p, which every command reading scenario files takes."""
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a scenario key, value parsed as TOML (repeatable); "
                              "a table replaces the whole table: --set 'target={kind="
                              "\"normal\", std=2}'; --set stop=false removes the stop rule")
    command.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                         help="import an extra plugin module (repeatable)")


def _run(args):
    from . import api, results
    from .progress import Progress
    from .runs import Run

    source = api.source_of(args.scenario)
    if "sweep" in source.table(args.set):
        return _sweep(argparse.Namespace(
            scenario=args.scenario, out=args.out, set=args.set, plugin=args.plugin, jobs=None,
            executor="local", scheduler=None, connect_timeout=10.0, plots=not args.no_plots,
            point_dirs=False, point_pages=False, metric=None, quiet=args.quiet))
    sc = source.load(args.set, args.plugin)
    with results.reserve(args.out, sc.name) as reservation:  # before simulating: fail early
        bar = Progress(sc.iterations, sys.stderr.isatty() and not args.quiet)
        run = Run.simulate(sc, bar, reservation, not args.no_plots)
    if not args.quiet:
        # the value and the distances; parameters, gradient norms and the rest: summary.json
        final = run.final
        shown = ", ".join(f"{k} {final[k]:.5g}" for k in ("value", *sc.distances) if k in final)
        print(f"{sc.name}: {run.status} after {run.summary['iterations']} iterations "
              f"({run.summary['wall_seconds']:.2f} s); {shown}")
        for warning in run.warnings:
            print(f"warning: {warning}")
        if "stability" in run.summary:
            print(f"stability at {describe_stability(run.summary['stability'])}")
        for line in run.plot_messages:  # plot kinds that do not apply, a missing MP4 encoder
            print(line)
        print(f"wrote {run.path}")
    return 0


def _sweep(args):
    from . import api, scenario, sweep
    from .progress import Progress

    sweep.check_options(args.executor, args.scheduler, args.jobs, args.connect_timeout)
    source = api.source_of(args.scenario)
    table = source.table(args.set)
    _, points = sweep.sweep_points(source.where, table)
    bar = Progress(len(points), sys.stderr.isatty() and not args.quiet, unit="point")
    rows, out = sweep.run_sweep(source, args.out, args.set, args.plugin, args.jobs,
                                args.executor, args.scheduler, args.plots, args.metric,
                                args.connect_timeout, point_pages=args.point_pages,
                                progress=bar, point_dirs=args.point_dirs)
    if not args.quiet:
        name = scenario.run_name(table, args.scenario)
        counts = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        print(f"{name}: {len(rows)} points: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        print(f"wrote {out}")
    return 0


def _plot(args):
    import shutil

    from . import api, plotting, results

    run = api.load_run(args.run_dir)
    output = run.scenario.get("output", {})
    kinds = [k for k in output.get("plots", []) if k in plotting.KINDS]
    fmt = args.format or output.get("format", "png")
    results.remove_leftovers(args.run_dir)
    # draw beside the old plots, then swap: a failure leaves the old plots as they were
    staging = os.path.join(args.run_dir, results.partial_name("plots"))
    os.mkdir(staging)
    try:
        paths = plotting.save_plots(run, kinds, staging, fmt)
        target = os.path.join(args.run_dir, "plots")
        with interrupts.deferred():
            if os.path.exists(target):
                os.rename(target, os.path.join(staging, "old"))
            os.rename(os.path.join(staging, "plots"), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path in paths:
        print(os.path.join(target, os.path.basename(path)))
    for line in paths.messages():
        print(line)
    return 0


def _compare(args):
    from . import api, plotting, results

    runs = [api.load_run(d) for d in args.run_dirs]
    metric = api.compared_metric(runs, args.metric)
    out = args.out or f"compare-{metric}.png"
    fmt = os.path.splitext(out)[1].lstrip(".").lower()
    if fmt not in plotting.METADATA:
        raise GamesimError(f"--out {out!r}: expected a .png, .svg or .pdf file name")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise GamesimError(f"--out {out!r}: no such folder {folder!r}")
    results.remove_leftovers(folder)
    _write_figure(api.compare(runs, metric), out, fmt)
    print(out)
    return 0


def _validate(args):
    from . import api

    bad = 0
    for path in args.scenarios:
        try:
            sc = api.load(path, args.set, args.plugin)
        except GamesimError as err:  # reported; the other files are still checked
            _traceback()
            message = str(err)
            _error("error: " + (message if message.startswith(f"{path}: ") else
                                f"{path}: {message}"))
            bad += 1
            continue
        print(f"{path}: ok ({sc.name}, {sc.mode}, {sc.iterations} iterations)")
    return 2 if bad else 0


def _plugins(args):
    from . import plugins

    plugins.load_modules(args.plugin)
    reg = plugins.registry()
    kinds = list(reg.classes)
    if args.kind is None:
        for kind in kinds:
            _list_kind(reg, kind)
    else:
        kind = args.kind[:-1] if args.kind.endswith("s") and args.kind[:-1] in kinds \
            else args.kind
        if kind not in kinds:
            plurals = [f"{k}s" for k in kinds]
            raise GamesimError(f"plugins {args.kind!r}: unknown kind"
                               f"{did_you_mean(args.kind, kinds + plurals)}; expected one of "
                               f"{', '.join(kinds)} (or the plural)")
        if args.name is not None:
            _show_plugin(reg, kind, reg.lookup(kind, args.name, "", f"plugins {kind}"))
            return 0
        _list_kind(reg, kind)
    failed = plugins.broken()
    if failed:
        print("broken plugins (not loaded; scenarios that do not use them still run):")
        for origin, error in failed:
            print(f"  {origin}: {error}")
    return 0


def _list_kind(reg, kind):
    """One kind's plugins: name, origin and the docstring's first paragraph, then each
    parameter indented below."""
    from . import params

    print(f"{kind}s:")
    for name in reg.names(kind):
        cls = reg.classes[kind][name]
        summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"  {name}  [{reg.origins[kind][name]}]  {summary}")
        for p in params.declared(cls):
            print(f"      {p.describe()}")


def _show_plugin(reg, kind, cls):
    """One plugin: its parameters and its whole docstring."""
    import inspect

    from . import params

    print(f"{kind} {cls.name}  [{reg.origins[kind][cls.name]}]")
    declared = params.declared(cls)
    print("parameters:" if declared else "parameters: none")
    for p in declared:
        print(f"    {p.describe()}")
    doc = inspect.cleandoc(cls.__doc__ or "")
    if doc:
        print()
        print(doc)


def _view(args):
    from . import page

    if os.path.isfile(os.path.join(args.directory, "sweep.csv")):
        path = page.write_sweep_page(args.directory, point_pages=args.point_pages)
    else:  # a missing or damaged run directory is exit 2, from reading it
        path = page.write_run_page(args.directory)
    print(path)
    if args.open:
        import pathlib
        import webbrowser

        webbrowser.open(pathlib.Path(path).resolve().as_uri())
    return 0


def _analyze(args):
    from . import api, plotting, results

    run = api.load_run(args.run_dir)
    document = api.analyze_run(run, args.at or ["end"])
    results.remove_leftovers(args.run_dir)
    path = os.path.join(args.run_dir, "stability.json")
    results.write_whole(path, lambda partial: results.write_json(partial, document))
    fmt = run.scenario.get("output", {}).get("format", "png")
    os.makedirs(os.path.join(args.run_dir, "plots"), exist_ok=True)
    _write_figure(plotting.figure_eigenvalues(run),  # reads the stability.json just written
                  os.path.join(args.run_dir, "plots", f"eigenvalues.{fmt}"), fmt)
    for point in document["points"]:
        print(describe_stability(point))
    print(path)
    return 0


def _write_figure(figure, path, fmt):
    """``figure`` saved as ``path`` in format ``fmt``, whole or not at all."""
    from . import plotting, results

    results.write_whole(path, lambda partial: figure.savefig(
        partial, format=fmt, dpi=plotting.DPI, metadata=plotting.METADATA[fmt]))


def describe_stability(point):
    """One line on an analysed point: where, the spectral radius, the verdict or why none."""
    label, it = point["label"], point.get("iteration")
    where = label if it is None else f"iteration {it}" if label == "iteration" else \
        f"{label} (iteration {it})"
    parts = [f"field norm {point['field_norm']:.3g}"]
    if point.get("spectral_radius") is not None:
        parts.append(f"spectral radius {point['spectral_radius']:.6g}")
    if point.get("measured_rate") is not None:
        parts.append(f"measured {point['measured_rate']:.6g} per iteration")
    verdict = point.get("verdict")
    if verdict:
        parts.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in verdict.items()
                               if isinstance(v, str)))
    else:
        parts.append(point.get("note") or "a local linearization, not a verdict")
    parts += [v for k, v in point.items() if k.endswith("reason") and v]
    return f"{where}: " + "; ".join(parts)


def _reproduce(args):
    from . import api, reproduction

    folder, rows = api.reproduce(args.out, args.quick)
    failed = [r for r in rows if not r.passed]
    report = os.path.join(folder, "report.md")
    if failed:
        sys.stderr.write(f"gamesim: {len(failed)} of {len(rows)} checks failed, the first: "
                         f"{failed[0].paper}: {failed[0].claim} (expected {failed[0].expected}, "
                         f"measured {failed[0].measured}, tolerance {failed[0].tolerance}); "
                         f"see {report}\n")
        print(report)
        return reproduction.FAILED
    print(f"{len(rows)} of {len(rows)} checks pass")
    print(report)
    return 0


COMMANDS = {"run": _run, "sweep": _sweep, "validate": _validate, "plot": _plot,
            "compare": _compare, "view": _view, "analyze": _analyze, "reproduce": _reproduce,
            "plugins": _plugins}


def _error(message):
    print("gamesim: " + " ".join(message.split()), file=sys.stderr)


def main(argv=None):
    """Run one command; return the exit status. Every failure is one line on stderr."""
    try:
        args = _parser().parse_args(argv)
        if sys.stdout is None and not getattr(args, "quiet", False):
            raise OSError(errno.EBADF, "standard output is closed")
        status = COMMANDS[args.command](args)
        interrupts.check()
        return status
    except BrokenPipeError:  # output piped into a reader that stopped early, e.g. head
        sys.stdout = None
        return 0
    except interrupts.Interrupted as signal_:
        return _interrupted(signal_)
    except KeyboardInterrupt:
        _error("interrupted; nothing half-written was left")
        return 130
    except Exception as err:
        _traceback()
        if interrupts.received() is not None:
            # the signal's exception was replaced by one that it caused on its way out (in a
            # library's clean-up code): the signal is still what ended the command
            return _interrupted(interrupts.Interrupted(interrupts.received()))
        if isinstance(err, GamesimError):
            _error(f"error: {err}")
            return err.exit_status
        if isinstance(err, OSError):
            where = f"{err.filename}: " if err.filename else ""
            _error(f"error: {where}{err.strerror or err}")
        else:
            _error(f"error: unexpected {type(err).__name__}: {err} (set GAMESIM_TRACEBACK=1 "
                   "for the traceback)")
        return 1


def _traceback():
    """The exception being handled's traceback, if GAMESIM_TRACEBACK asks for it."""
    if os.environ.get("GAMESIM_TRACEBACK"):
        traceback.print_exc()


def _interrupted(signal_):
    written = getattr(signal_, "written", None)
    _error(f"interrupted by {signal_}; " + (f"{written} was written" if written else
                                              "nothing half-written was left"))
    return signal_.exit_status


def entry():
    """Console-script entry point: ``main`` with the signals handled, then exit without
    interpreter teardown.

    Everything has been written and closed by then; tearing down Numba's and Matplotlib's
    modules would add about 0.3 s to every command.
    """
    interrupts.install()
    status = main()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        pass
    except OSError as err:  # a full or failing standard output
        _error(f"error: cannot write standard output: {err.strerror or err}")
        status = status or 1
    sys.stderr.flush()
    os._exit(status)
