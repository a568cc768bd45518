"""Studies of the discretization that docs/ scripts draw and ``gamesim reproduce`` checks."""
