"""`nas sweep EXPERIMENT.yaml`: sample and train a design-space sweep through Ray Tune."""

from __future__ import annotations

import argparse
import statistics
import sys

from nas import api


def add_overrides(p: argparse.ArgumentParser, help: str) -> None:
    """The repeatable `--overrides PATH=VALUE` (short `--set`) of a command that reads an experiment."""
    p.add_argument(
        "--overrides", "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE", help=help
    )


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep", help="sample specs from the experiment's spaces and train them through Ray Tune"
    )
    p.add_argument("experiment", nargs="?", help="experiment YAML file (see experiments/)")
    p.add_argument("--out", help="sweep folder (default runs/<experiment name>); one run per space inside")
    p.add_argument("--address", help="Ray cluster address (auto or ray://HOST:PORT); default a local Ray")
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="finish the pending trials of a killed or interrupted sweep folder (an experiment file "
        "given too must match the recorded one but for resources)",
    )
    p.add_argument("--no-analyze", action="store_true", help="skip the EDF analysis at the end")
    add_overrides(
        p,
        "set a field of the experiment file, e.g. training.epochs=2 (dotted path, YAML value; "
        "validated like the file and recorded in the run); repeatable",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and sample, print what would train (per space: count, FLOPs and params ranges, "
        "dataset, epochs, resources); train and write nothing",
    )
    p.set_defaults(run=run)


def _spread(values: list[float], unit: float, spec: str) -> str:
    """min / median / max of `values` in `unit`s, formatted with `spec`."""
    lo, mid, hi = (format(v / unit, spec) for v in (min(values), statistics.median(values), max(values)))
    return f"{lo} / {mid} / {hi}"


def dry_run(path: str, overrides: list[str]) -> int:
    """Print what `nas sweep` would train, from a plan that trains and writes nothing."""
    p = api.plan(path, overrides)
    exp, r = p.experiment, p.experiment.resources
    drawn = "random draws (Optuna chooses its own)" if exp.search.mode == "optimize" else "drawn"
    print(
        f"dry run of '{exp.name}' ({exp.search.mode}): {len(p.trials)} space(s) x {exp.samples} samples; "
        f"dataset {exp.dataset.name} {p.input_shape}, {p.num_classes} classes; "
        f"{exp.training.epochs} epochs each; per trial {r.cpus_per_trial:g} CPU, {r.gpus_per_trial:g} GPU"
    )
    if not p.data_checked:
        print(
            f"  data not checked: {exp.dataset.name}'s declaration fixes its input and classes, so no file "
            "was read; the sweep reads and checks it before training"
        )
    for space, entries in p.trials.items():
        flops = [e.complexity["flops"] for e in entries]
        params = [e.complexity["params"] for e in entries]
        print(
            f"  {space}: {len(entries)} {drawn}; MFLOPs min/median/max {_spread(flops, 1e6, '.2f')}; "
            f"params (k) {_spread(params, 1e3, '.1f')}"
        )
        verdicts = [v for e in entries for v in e.spec.get("gridding", {}).values()]
        if verdicts:
            free = sum(v == "hole-free" for v in verdicts)
            print(
                f"    dilated stages: {free} hole-free, {len(verdicts) - free} with gridding holes (`nas hdc`)"
            )
    if p.comparison:
        print(f"  {p.comparison}")
    print(f"nothing trained or written; run it: nas sweep {path}{''.join(f' --set {o}' for o in overrides)}")
    return 0


def run(args) -> int:
    if args.dry_run:
        if args.resume or not args.experiment:
            raise api.ArgError(
                "",
                "{dry_run} previews a new sweep: give an experiment file, without {resume}",
                ["dry_run", "resume"],
            )
        return dry_run(args.experiment, args.overrides)
    try:
        runs = api.sweep(
            args.experiment,
            overrides=args.overrides,
            out=args.out,
            address=args.address,
            resume=args.resume,
        )
    except api.Interrupted as stop:  # Ray is down by now; the partial run is not analysed
        print(f"nas sweep: {stop.message}", file=sys.stderr)
        return stop.exit_code
    sweep_dir = runs[0].dir.parent
    print(f"results: {', '.join(str(r.dir / 'trials.jsonl') for r in runs)}")
    if not args.no_analyze:
        result = api.analyze(
            [r.dir for r in runs], figures=True
        )  # figures in SWEEP/analysis/, as `nas analyze`
        print(api.analysis_text(result))
    print(f"next: nas analyze {sweep_dir}   |   nas results {runs[0].dir}")
    return 0
