"""Design-space explorer engine: config, build, complexity, training, sweeps, analysis, CLI."""

__version__ = "0.1.0"
