"""The path of an exploration as a figure: per step every candidate's estimated P(candidate error <
parent error) with the margin it had to clear, the accepted one marked, and the models trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nas.analysis.plots import figure, margins
from nas.exploring.path import Step
from nas.outputs import replaceable, wrote

MARKS = {"accepted": ("*", "tab:green", 14), "passed": ("o", "tab:blue", 7), "failed": ("x", "tab:red", 7)}


def path_figure(steps: list[Step], path: Path) -> Path:
    """Two panels: the tests per step (pi against 1/2 - margin) and the models used, cumulated."""
    fig = figure((max(6.0, 1.3 * len(steps) + 3), 6.5), 110)
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    margins(fig, left=0.8, bottom=0.6, top=0.5, hspace=0.5)
    seen = set()
    for s in steps:
        for j, t in enumerate(s.tests):
            state = "accepted" if j == s.accepted else "passed" if t["passed"] else "failed"
            marker, color, size = MARKS[state]
            top.plot(
                s.index, t["test"]["pi"], marker, color=color, ms=size, label=None if state in seen else state
            )
            seen.add(state)
            last = s.index == steps[-1].index  # labels of the last step run leftwards, inside the axes
            top.annotate(
                t["candidate"]["kind"],
                (s.index, t["test"]["pi"]),
                xytext=(-6 if last else 6, 6 if j == s.accepted else -10),
                textcoords="offset points",
                ha="right" if last else "left",
                fontsize=8,
                color="black" if j == s.accepted else "gray",
            )
        if not s.tests:
            top.annotate(s.stop, (s.index, 0.5), ha="center", fontsize=8, color="gray")
    margin = next((t["test"]["margin"] for s in steps for t in s.tests), None)
    top.axhline(0.5, color="gray", lw=0.8, ls="--")
    if margin is not None:
        top.axhline(0.5 - margin, color="tab:red", lw=0.8, label=f"1/2 - margin ({0.5 - margin:g})")
    top.set_ylabel("P(candidate err < parent err)")
    top.set_title("exploration path: each candidate against its parent (normalised EDFs)", fontsize=10)
    top.legend(fontsize=8, loc="best")
    ticks = [s.index for s in steps]
    top.set_xticks(ticks)
    top.margins(y=0.18)  # room for the labels above the highest point
    for ax in (top, bottom):
        ax.set_xlim(0.4, max(ticks, default=1) + 0.6)
    used = np.cumsum([s.models for s in steps]) if steps else np.array([])
    bottom.bar(ticks, [s.models for s in steps], color="tab:gray", label="models this step")
    bottom.plot(ticks, used, "o-", color="black", label="models so far (without the start round)")
    names = [s.chosen.space.removeprefix("anynet_") if s.chosen else "-" for s in steps]
    bottom.set_xticks(ticks, [f"{k}\n{n}" for k, n in zip(ticks, names)], fontsize=8)
    bottom.set_xlabel("step (space accepted)")
    bottom.set_ylabel("models trained")
    bottom.legend(fontsize=8, loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(replaceable(path))
    return wrote(path)
