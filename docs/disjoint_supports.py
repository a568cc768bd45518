"""Every distance between a narrow uniform bump and the same bump shifted by theta.

Arjovsky, Chintala, Bottou (2017), Example 1, in 1D (the study itself is
gamesim/studies/disjoint_supports.py; ``gamesim reproduce`` checks it too). The grid, the
target and the list of distances come from scenarios/disjoint-supports.toml.

    python docs/disjoint_supports.py [--scenario FILE] [--out docs/disjoint-supports.png]
"""

import argparse
import os

from gamesim import scenario
from gamesim.studies.disjoint_supports import plot

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, os.pardir, "scenarios", "disjoint-supports.toml")
OUT = os.path.join(HERE, "disjoint-supports.png")


def sweep(path=SCENARIO, shifts=321):
    """The study's sweep over the scenario file ``path``."""
    from gamesim.studies import disjoint_supports

    return disjoint_supports.sweep(scenario.load(path), shifts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=SCENARIO)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    theta, values, width, h = sweep(args.scenario)
    plot(theta, values, width, h).savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
