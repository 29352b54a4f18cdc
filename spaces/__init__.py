"""Design spaces: parametrisations of networks, drawn from a numpy Generator or an Optuna trial."""

from spaces import anynet, hdc, mixed, nds, regnet  # noqa: F401  (imported to register their spaces)
from spaces.base import Context, Law, Limits, Sample, Space, sample
from spaces.registry import get, names

__all__ = ["Context", "Law", "Limits", "Sample", "Space", "get", "names", "sample"]
