"""Design spaces: parametrisations of networks, drawn from a numpy Generator or an Optuna trial.

The space modules load on demand (see spaces.registry): `get` and `names` import them."""

from spaces.base import Context, Law, Limits, Sample, Space, sample
from spaces.registry import get, names

__all__ = ["Context", "Law", "Limits", "Sample", "Space", "get", "names", "sample"]
