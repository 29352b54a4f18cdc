"""Design-space analysis: EDFs, bootstrap, trends, Pareto fronts, refinement, figures, report."""
