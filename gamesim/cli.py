"""Command line: ``gamesim run | validate | plugins``.

Exit status 0 when the simulation ran (a diverged game is a result), 2 for bad input with one
message on stderr, 1 for anything unexpected. Set GAMESIM_TRACEBACK=1 for full tracebacks.
"""

import argparse
import os
import sys
import time

from .errors import GamesimError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise GamesimError(f"usage: {message} (see 'gamesim {self.prog.split()[-1]} --help')"
                           if " " in self.prog else f"usage: {message}")


def _parser():
    parser = _Parser(prog="gamesim", description="Simulate the GAN minimax game on 1D grids.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario file")
    run.add_argument("scenario")
    run.add_argument("--out", help="run directory (default runs/<name>, numbered if taken)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario key, value parsed as TOML (repeatable)")
    run.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE",
                     help="import an extra plugin module (repeatable)")
    run.add_argument("--no-plots", action="store_true", help="write no figures")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+")
    validate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    validate.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE")
    plugins = sub.add_parser("plugins", help="list installed plugins and their parameters")
    plugins.add_argument("-p", "--plugin", action="append", default=[], metavar="MODULE")
    return parser


class _Progress:
    """A one-line progress bar on stderr, only on a terminal and only after about a second."""

    def __init__(self, total, enabled):
        self.total, self.enabled = max(total, 1), enabled
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, it):
        if not self.enabled or time.perf_counter() - self.start < 1.0:
            return
        frac = it / self.total
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] {it}/{self.total}")
        sys.stderr.flush()
        self.shown = True

    def close(self):
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")


def _run(args):
    from . import engine, plotting, results, scenario

    sc = scenario.load(args.scenario, args.set, args.plugin)
    out = args.out or results.default_out(sc.name)
    if os.path.exists(out):
        raise GamesimError(f"--out {out}: already exists; choose another directory "
                           "(a run is never mixed into an earlier one)")
    progress = _Progress(sc.iterations, sys.stderr.isatty() and not args.quiet)
    result = engine.run(sc, progress)
    progress.close()

    def draw(directory):
        if not args.no_plots:
            plotting.save_plots(results.RunData(directory), sc.plots, directory)

    out = results.write_run(out, sc, result, draw)
    if not args.quiet:
        final = dict(zip(result.columns, result.rows[-1])) if result.rows else {}
        shown = ", ".join(f"{k} {v:.6g}" for k, v in final.items() if k != "iteration")
        print(f"{sc.name}: {result.status} after {result.iterations} iterations "
              f"({result.wall_seconds:.2f} s); {shown}")
        for warning in result.warnings:
            print(f"warning: {warning}")
        print(f"wrote {out}")
    return 0


def _validate(args):
    from . import scenario

    for path in args.scenarios:
        sc = scenario.load(path, args.set, args.plugin)
        print(f"{path}: ok ({sc.name}, {sc.mode}, {sc.iterations} iterations)")
    return 0


def _plugins(args):
    from . import params, plugins

    plugins.load_modules(args.plugin)
    reg = plugins.registry()
    for kind in reg.classes:
        print(f"{kind}s:")
        for name in reg.names(kind):
            cls = reg.classes[kind][name]
            summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            print(f"  {name}  [{reg.origins[kind][name]}]  {summary}")
            for p in params.declared(cls):
                print(f"      {p.describe()}")
    return 0


COMMANDS = {"run": _run, "validate": _validate, "plugins": _plugins}


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except GamesimError as err:
        if os.environ.get("GAMESIM_TRACEBACK"):
            raise
        print(f"gamesim: error: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("gamesim: interrupted; no run directory was written", file=sys.stderr)
        return 130


def entry():
    """Console-script entry point: like ``main``, then exit without interpreter teardown.

    Everything has been written and closed by then; tearing down Numba's and Matplotlib's
    modules would add about 0.3 s to every command.
    """
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into a reader that stopped early, e.g. head
        status = 0
    sys.stderr.flush()
    os._exit(status)
