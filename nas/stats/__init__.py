"""Statistics that sweeping and analysis share: EDFs and KS tests, their power, the sequential
comparison and Pareto fronts; plain numpy (scipy only where dist.py defers to it), nothing of the engine above them."""
