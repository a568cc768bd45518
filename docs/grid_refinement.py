"""Grid refinement: discretized distances between two Gaussians against their closed forms.

The study is gamesim/studies/grid_refinement.py (read its docstring); this script prints its
tables and draws docs/grid-refinement.png.

    python docs/grid_refinement.py [--out docs/grid-refinement.png] [--sizes 64 128 ...]
"""

import os
import sys

from gamesim.studies.grid_refinement import *  # (the tests read the study here)
from gamesim.studies.grid_refinement import main

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grid-refinement.png")

if __name__ == "__main__":
    main(["--out", OUT, *sys.argv[1:]])
