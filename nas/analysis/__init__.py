"""Design-space analysis: runs read into columns (frame), their statistics (edf, bootstrap, bestof,
trends, pareto, refine, power) gathered by `analyze` into a typed result (result), then drawn (plots,
figures) and rendered for the terminal (text) or as an HTML page with CSV tables (report)."""
