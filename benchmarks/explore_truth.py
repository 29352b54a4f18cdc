"""The exploration loop (nas.exploring.path) on planted truths, with the synthetic trainer
(nas.exploring.synthetic): no training, thousands of whole explorations.

Scenario "paper", from AnyNetX_A (4 stages, d <= 16, w <= 1024): decreasing widths cost error,
blocks beyond 8 per stage cost error, b and g make no difference. How often does the final space
hold each planted constraint (shared b, shared g, non-decreasing widths, d <= 8)?

Scenario "harm", from AnyNetX_D (d <= 8): ordered depths cost error, sized so that AnyNetX_E is
worse than AnyNetX_D by exactly the margin (P(E error < D error) = 1/2 - margin on normalised EDFs,
the hardest case for the test). How often is the harmful E accepted (must be <= the level)?

Scenario "linear", from AnyNetX_E (d <= 8): widths that do not grow by one ratio a stage cost
error (synthetic.irregularity, a stand-in for e_fit), so good models fit the linear law and the
RegNet move is offered; RegNet is better. How often is it offered and accepted?

Scenario "harm_linear": the same, but every RegNet model costs a penalty sized so that the RegNet
candidate of a first round is worse than AnyNetX_E by exactly the margin. How often is it accepted?

Run: python benchmarks/explore_truth.py [--runs 1000] [--linear-runs 200] [--models 500] [--margin 0.1]
[--level 0.05] [--scenarios paper,harm,linear,harm_linear]
"""

from __future__ import annotations

import argparse
import time

from nas.exploring import synthetic
from nas.exploring.candidates import LINEAR, Candidate, linear, variant
from nas.exploring.path import Settings
from nas.stats.sequential import clopper_pearson


def calibrate(start: Candidate, margin: float, n: int, seed: int) -> float:
    """The ordered-depths penalty that puts E exactly `margin` below D at n models a side
    (bisection on the mean estimate, synthetic.true_pi)."""
    lo, hi = 0.0, 5.0
    e = Candidate("anynet_x_e", start.options)
    for _ in range(10):
        mid = (lo + hi) / 2
        pi = synthetic.true_pi(e, start, synthetic.Truth(ordered_depths=mid), n, seed=seed)
        lo, hi = (mid, hi) if pi > 0.5 - margin else (lo, mid)
    return hi


def share(hits: int, runs: int) -> str:
    """A share with its 95% Clopper-Pearson interval."""
    lo, hi = clopper_pearson(hits, runs)
    return f"{hits / runs:.3f} [{lo:.3f}, {hi:.3f}]"


def paper(runs: int, settings: Settings) -> None:
    """Scenario 'paper': how often each planted constraint ends in the final space."""
    truth, start = synthetic.Truth(), Candidate("anynet_x_a", {})
    found = {
        "shared b": 0,
        "shared g": 0,
        "non-decreasing widths": 0,
        "d <= 8": 0,
        "(non-decreasing depths)": 0,
        "(linear widths: RegNet)": 0,
    }
    steps = models = 0
    for r in range(runs):
        path = synthetic.simulate(start, truth, Settings(**{**settings.__dict__, "seed": 100_000 * r}))
        final = next((s.chosen for s in reversed(path) if s.chosen), start)
        regnet = final.space.startswith("regnet_")  # the linear law keeps E's constraints
        letter = "e" if regnet else variant(final.space)
        found["shared b"] += letter >= "b"
        found["shared g"] += letter >= "c"
        found["non-decreasing widths"] += letter >= "d"
        found["(non-decreasing depths)"] += letter == "e"
        found["d <= 8"] += final.options.get("max_depth", 16) <= 8
        found["(linear widths: RegNet)"] += regnet
        steps += sum(s.accepted is not None for s in path)
        models += settings.models + sum(s.models for s in path)
    print(f"\npaper truths from AnyNetX_A, {runs} explorations")
    print("| planted constraint | found in the final space (95% CI) |")
    print("|---|---|")
    for k, v in found.items():
        print(f"| {k} | {share(v, runs)} |")
    print(f"mean accepted steps {steps / runs:.2f}, mean models per exploration {models / runs:.0f}")


def harm(runs: int, settings: Settings) -> None:
    """Scenario 'harm': how often the harmful AnyNetX_E is accepted."""
    start = Candidate("anynet_x_d", {"max_depth": 8})
    penalty = calibrate(start, settings.margin, settings.models, seed=7)
    truth = synthetic.Truth(ordered_depths=penalty)
    hits, harmful, cache = 0, 0, {}
    for r in range(runs):
        path = synthetic.simulate(start, truth, Settings(**{**settings.__dict__, "seed": 100_000 * r + 17}))
        for s in path:
            if s.chosen and s.chosen.kind == "nondecreasing_depths":
                hits += 1
                key = repr(sorted(s.parent.options.items()))
                if key not in cache:  # the parent may have narrowed first: its own true pi
                    cache[key] = synthetic.true_pi(s.chosen, s.parent, truth, settings.models, seed=11)
                harmful += cache[key] <= 0.5 - settings.margin
    one = Settings(**{**settings.__dict__, "steps": 1})  # the whole level on one look
    single = 0
    for r in range(runs):
        first = synthetic.simulate(start, truth, Settings(**{**one.__dict__, "seed": 100_000 * r + 29}))[0]
        chosen = first.chosen
        single += chosen is not None and chosen.kind == "nondecreasing_depths"
    pi = synthetic.true_pi(Candidate("anynet_x_e", start.options), start, truth, settings.models, seed=3)
    print(f"\nharm at the margin from AnyNetX_D (d <= 8), {runs} explorations")
    print(
        f"ordered-depths penalty {penalty:.3f} error points: P(E < D) at {settings.models} models a side "
        f"{pi:.3f} (margin boundary {0.5 - settings.margin})"
    )
    print("| accepted | share of explorations (95% CI) | level |")
    print("|---|---|---|")
    print(f"| E (non-decreasing depths), any parent | {share(hits, runs)} | {settings.level} |")
    print(f"| E where its true pi <= 1/2 - margin | {share(harmful, runs)} | {settings.level} |")
    print(f"| E, a one-step path (the whole level on one look) | {share(single, runs)} | {settings.level} |")


IRREGULAR = 8.0  # error points per unit of irregularity: good AnyNetX_E models' median e_fit ~0.08


def linear_candidate(start: Candidate, truth: synthetic.Truth, n: int, seed: int) -> Candidate:
    """The RegNet candidate that one round of `start` under `truth` proposes."""
    data = synthetic.runner(truth)("", start, n, seed)
    found = linear(start, data, [LINEAR])
    if not found:
        raise RuntimeError("the calibration round offers no linear candidate: raise IRREGULAR")
    return found[0]


def calibrate_regnet(start: Candidate, margin: float, n: int, seed: int) -> tuple[float, Candidate]:
    """The RegNet penalty that puts a first round's RegNet candidate exactly `margin` below
    `start` at n models a side (bisection on synthetic.true_pi, 50 draws a point), and that candidate."""
    cand = linear_candidate(start, synthetic.Truth(irregular=IRREGULAR), n, seed)
    lo, hi = 0.0, 20.0
    for _ in range(10):
        mid = (lo + hi) / 2
        truth = synthetic.Truth(irregular=IRREGULAR, regnet=mid)
        pi = synthetic.true_pi(cand, start, truth, n, reps=50, seed=seed)
        lo, hi = (mid, hi) if pi > 0.5 - margin else (lo, mid)
    return hi, cand


def linear_law(runs: int, settings: Settings) -> None:
    """Scenario 'linear': how often the RegNet move is offered and accepted where it is better."""
    start, truth = Candidate("anynet_x_e", {"max_depth": 8}), synthetic.Truth(irregular=IRREGULAR)
    offered = accepted = 0
    for r in range(runs):
        path = synthetic.simulate(start, truth, Settings(**{**settings.__dict__, "seed": 100_000 * r + 41}))
        offered += any(t["candidate"]["kind"] == LINEAR for s in path for t in s.tests)
        accepted += any(s.chosen and s.chosen.kind == LINEAR for s in path)
    print(
        f"\nlinear widths better (irregularity costs {IRREGULAR} a unit) from AnyNetX_E (d <= 8), {runs} explorations"
    )
    print("| RegNet move | share of explorations (95% CI) |")
    print("|---|---|")
    print(f"| offered (good models' median e_fit <= threshold) | {share(offered, runs)} |")
    print(f"| accepted | {share(accepted, runs)} |")


def harm_linear(runs: int, settings: Settings) -> None:
    """Scenario 'harm_linear': how often a RegNet move worse by the margin is accepted."""
    start = Candidate("anynet_x_e", {"max_depth": 8})
    penalty, cand = calibrate_regnet(start, settings.margin, settings.models, seed=13)
    truth = synthetic.Truth(irregular=IRREGULAR, regnet=penalty)
    pi = synthetic.true_pi(cand, start, truth, settings.models, reps=100, seed=5)
    offered = accepted = 0
    for r in range(runs):
        path = synthetic.simulate(start, truth, Settings(**{**settings.__dict__, "seed": 100_000 * r + 53}))
        offered += any(t["candidate"]["kind"] == LINEAR for s in path for t in s.tests)
        accepted += any(s.chosen and s.chosen.kind == LINEAR for s in path)
    print(f"\nharmful linear law at the margin from AnyNetX_E (d <= 8), {runs} explorations")
    print(
        f"RegNet penalty {penalty:.3f} error points: P(RegNet < E) at {settings.models} models a side "
        f"{pi:.3f} for a first round's candidate (margin boundary {0.5 - settings.margin})"
    )
    print("| RegNet move | share of explorations (95% CI) | level |")
    print("|---|---|---|")
    print(f"| offered | {share(offered, runs)} | |")
    print(f"| accepted | {share(accepted, runs)} | {settings.level} |")


SCENARIOS = ("paper", "harm", "linear", "harm_linear")


def main() -> None:
    """Parse the flags, run the scenarios, print the tables and the time taken."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--linear-runs", type=int, default=200, help="explorations of the two linear scenarios")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {SCENARIOS}")
    p.add_argument("--models", type=int, default=500)
    p.add_argument("--margin", type=float, default=0.1)
    p.add_argument("--level", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=8)
    a = p.parse_args()
    settings = Settings(models=a.models, margin=a.margin, level=a.level, steps=a.steps)
    print(f"models per round {a.models}, margin {a.margin}, level {a.level} over <= {a.steps} steps")
    chosen = a.scenarios.split(",")
    if set(chosen) - set(SCENARIOS):
        p.error(f"--scenarios: unknown {sorted(set(chosen) - set(SCENARIOS))}; legal: {list(SCENARIOS)}")
    for name, fn, runs in zip(
        SCENARIOS, (paper, harm, linear_law, harm_linear), (a.runs, a.runs, a.linear_runs, a.linear_runs)
    ):
        if name in chosen:
            t = time.time()
            fn(runs, settings)
            print(f"({name}: {time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
