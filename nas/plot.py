"""Figures: EDF curves of several runs in one PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nas.edf import edf  # noqa: E402


def edf_figure(curves: dict[str, np.ndarray], path: Path, *, log: bool = False, title: str = "") -> Path:
    """Plot one EDF per named error array, with n, min and mean in the legend."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=130)
    finite = [e for e in curves.values() if len(e)]
    lo = min(float(e.min()) for e in finite) if finite else 0.0
    hi = max(float(e.max()) for e in finite) if finite else 100.0
    pad = 0.02 * (hi - lo or 1.0)
    grid = np.geomspace(max(lo * 0.95, 1e-3), hi * 1.05, 600) if log else np.linspace(lo - pad, hi + pad, 600)
    for name, errors in curves.items():
        if len(errors) == 0:
            continue
        ax.plot(
            grid,
            edf(errors, grid),
            lw=2,
            label=f"{name} [n={len(errors)}, min {errors.min():.2f}, mean {errors.mean():.2f}]",
        )
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("error (%)")
    ax.set_ylabel("cumulative prob.")
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.3)
    ax.set_title(title or "Error distribution functions")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
