"""Statistics that sweeping and analysis share: EDFs and KS tests, their power, the sequential
comparison and Pareto fronts; plain numpy and scipy, nothing of the engine above them."""
