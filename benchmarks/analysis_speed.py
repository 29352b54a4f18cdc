"""Time `nas analyze` on synthetic runs: two AnyNetX_C-like runs of 50,000 trial rows each
(100,000 in all, shaped like `nas.records.rows.TrialRow` rows, 2% failed or diverged), 1,000 bootstrap
resamples per EDF band and per power estimate. Prints the seconds of each stage and the total (the rows
read from the columns kept by the first read; that first read is printed on its own line), then
end to end: `nas analyze --json` as a command on quickstart-sized runs (2 x 24 rows) beyond Python's
start, and `analyze()` on the 100,000 rows, each without figures (now) and with them forced on
(`--figures`, what both did before figures became opt-in), measured in the same run. Beside the KS
stage, scipy's `ks_2samp` of the same curves with its import, as the analysis computed it before; where
a figure was recorded before (`EARLIER`), it is printed beside today's.

Run: python benchmarks/analysis_speed.py [--rows-per-run 50000] [--resamples 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from nas.analysis import analyze as an
from nas.analysis import figures, frame
from nas.analysis.report import write_report
from nas.analysis.result import Analysis
from nas.records import store
from nas.records.rows import Status
from nas.stats.edf import error_grid

# wall seconds `python benchmarks/analysis_speed.py` printed on main at a6e0209 (the 2-core development
# machine, quiet), before the first read skipped building a TrialRow per row and before the asymptotic
# KS p-value beyond 10,000 a side stopped importing scipy: printed beside the figures measured now
EARLIER = {
    "first read: parse rows, keep columns": 10.4,
    "KS tests and models needed": 1.62,
    "total without figures (--json)": 3.27,
    "now (no figures)": 0.36,  # the quickstart's `nas analyze --json` beyond Python's start
    "analyze() now (no figures)": 2.25,
}

EXPERIMENT = {
    "name": "bench",
    "spaces": [{"name": "anynet_x_c", "options": {}}, {"name": "anynet_x_e", "options": {}}],
    "samples": 50_000,
    "dataset": {"name": "synthetic"},
}


def synth_rows(space: str, n: int, rng: np.random.Generator) -> list[str]:
    """n JSON lines of 4-stage AnyNet rows whose error is lowest near w3 = 256, d3 = 6 and g = 16."""
    d = rng.integers(1, 17, (n, 4))
    w = rng.integers(1, 129, (n, 4)) * 8
    if space.endswith("_e"):
        d, w = np.sort(d, axis=1), np.sort(w, axis=1)
    b = rng.choice([1.0, 2.0, 4.0], n)
    g = rng.choice([1, 2, 4, 8, 16, 32], n)
    flops = (d * w.astype(float) ** 2).sum(axis=1) * 50.0 / b
    error = 20 + 0.002 * (w[:, 2] - 256) ** 2 / 64 + 0.3 * (d[:, 2] - 6) ** 2 + np.abs(np.log2(g / 16))
    error += rng.normal(0, 1.0, n)
    status = rng.choice([Status.OK, Status.FAILED, Status.DIVERGED], n, p=[0.98, 0.01, 0.01])
    lines = []
    for i in range(n):
        stages = [
            {
                "block": "res_bottleneck_x",
                "depth": int(d[i, j]),
                "width": int(w[i, j]),
                "stride": 2,
                "params": {"bottleneck_ratio": float(b[i]), "group_width": int(g[i])},
            }
            for j in range(4)
        ]
        values = {f"d{j + 1}": int(d[i, j]) for j in range(4)}
        values.update({f"w{j + 1}": int(w[i, j]) for j in range(4)})
        values.update({"b": float(b[i]), "g": int(g[i])})
        ok = status[i] == Status.OK
        row = {
            "trial_index": i,
            "space": space,
            "experiment": "bench",
            "seed": i,
            "model_id": f"{space[-1]}{i:011x}",
            "spec": {
                "name": "",
                "input_shape": [3, 32, 32],
                "stem": {"type": "simple", "width": 32, "params": {"stride": 1}},
                "stages": stages,
                "head": {"type": "classifier", "num_classes": 10, "params": {}},
            },
            "values": values,
            "complexity": {"flops": int(flops[i]), "params": int(flops[i] / 40), "acts": int(flops[i] / 300)},
            "status": str(status[i]),
            "reason": "" if ok else "synthetic failure",
            "error": float(error[i]) if ok else None,
            "val_errors": [float(error[i]) + 5.0, float(error[i])] if ok else [],
            "train_errors": [float(error[i]) + 4.0, float(error[i]) - 1.0] if ok else [],
            "epochs": 2 if ok else 0,
            "wall_time": 10.0,
            "versions": {"nas": "0.1.0", "torch": "2", "ray": "2", "python": "3.11"},
        }
        lines.append(json.dumps(row, sort_keys=True))
    return lines


def write_runs(root: Path, per_run: int) -> list[Path]:
    """Two run directories with experiment.yaml, plan.jsonl and trials.jsonl."""
    runs = []
    for k, sc in enumerate(EXPERIMENT["spaces"]):
        run = root / sc["name"]
        run.mkdir(parents=True)
        (run / store.EXPERIMENT).write_text(yaml.safe_dump({**EXPERIMENT, "samples": per_run}))
        lines = synth_rows(sc["name"], per_run, np.random.default_rng(k))
        (run / store.TRIALS).write_text("\n".join(lines) + "\n")
        (run / store.PLAN).write_text(
            "\n".join(lines) + "\n"
        )  # one line per planned trial is all analysis reads
        runs.append(run)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows-per-run", type=int, default=50_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--keep", help="write the runs and the report here instead of a temp folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        runs = write_runs(root / "runs", args.rows_per_run)
        size = sum((r / store.TRIALS).stat().st_size for r in runs) / 1e6
        print(
            f"{2 * args.rows_per_run:,} rows in 2 runs ({size:.0f} MB of trials.jsonl), {args.resamples} resamples"
        )
        s = an.Settings(bootstrap=args.resamples)
        rng = np.random.default_rng(0)
        times: dict[str, tuple[float, float]] = {}

        def stage(name, fn, part=False):
            """Time fn; a part of a stage timed on its own is printed indented, not added to the total."""
            kept = []
            took = seconds(lambda: kept.append(fn()))
            if not part:
                times[name] = took
            print(
                f"  {'  ' * part}{name:<{40 - 2 * part}} {took[0]:6.2f} s wall {took[1]:6.2f} s CPU{earlier(name)}"
            )
            return kept[0]

        first = stage("first read: parse rows, keep columns", lambda: frame.load_runs(runs), part=True)
        data = stage("read rows into columns (kept)", lambda: frame.load_runs(runs))
        assert [d.label for d in data] == [d.label for d in first]
        masks, errors = {}, {}
        for d in data:
            masks[d.label], errors[d.label] = an.in_curve(d, None)
        grid = error_grid([errors[d.label][masks[d.label]] for d in data], False)
        stats = stage(
            "EDF, bands, Pareto, search, trends",
            lambda: {d.label: an.run_stats(d, masks[d.label], errors[d.label], s, grid, rng) for d in data},
        )
        for d in data:
            stage(
                f"of which refinement ({d.label})",
                lambda d=d: an.refinement(d, masks[d.label], errors[d.label], s),
                part=True,
            )
        norm = stage("normalised EDFs and bands", lambda: an.normalized(data, masks, errors, s, grid, rng))
        ks = stage("KS tests and models needed", lambda: an.ks_pairs(data, masks, errors, norm, s))
        curves = root / "curves.npz"
        np.savez(curves, *(errors[d.label][masks[d.label]] for d in data))
        scipy_ks = f"import numpy as np; from scipy import stats; z = np.load({str(curves)!r}); stats.ks_2samp(*z.values())"
        line(
            "  before: scipy ks_2samp, its import incl.",
            command("-c", scipy_ks),
            command("-c", "import numpy"),
        )
        out = root / "report"
        result = Analysis(stats, ks, norm, s)
        result.figures = stage("figures", lambda: figures.draw(result, out / "edf.png", out, rng))
        stage("HTML report and CSV tables", lambda: write_report(result, out))
        line("total", tuple(map(sum, zip(*times.values()))))
        stats = [v for k, v in times.items() if k not in ("figures", "HTML report and CSV tables")]
        line("total without figures (--json)", tuple(map(sum, zip(*stats))))
        print("  (a run's first read parses its JSON rows and keeps their columns beside them; the totals")
        print("  read the kept columns, as every later analysis of an unchanged run does)")
        end_to_end(root, runs, s)


def seconds(fn) -> tuple[float, float]:
    """Wall and CPU seconds of one call, the CPU of the processes it waited for included (a shared
    machine's load stretches the wall time, far less the CPU time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return time.perf_counter() - wall, time.process_time() - cpu + waited


def command(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `python` run (its output dropped)."""
    return seconds(lambda: subprocess.run([sys.executable, *args], check=True, capture_output=True))


def line(name: str, took: tuple[float, float], less: tuple[float, float] = (0.0, 0.0), key: str = "") -> None:
    """One timing, wall and CPU, less a baseline (Python's start), with its earlier figure if any."""
    print(
        f"  {name:<40} {took[0] - less[0]:6.2f} s wall {took[1] - less[1]:6.2f} s CPU{earlier(key or name)}"
    )


def earlier(name: str) -> str:
    """The wall seconds recorded for a line before (`EARLIER`), as a column beside today's."""
    return f"   (earlier {EARLIER[name]:5.2f} s wall)" if name in EARLIER else ""


def end_to_end(root: Path, runs: list[Path], s: an.Settings) -> None:
    """`nas analyze --json` on quickstart-sized runs and `analyze()` on the big runs, without figures
    and with them forced on (the behaviour before figures became opt-in)."""
    small = write_runs(root / "quickstart", 24)
    start = command("-c", "pass")
    cli = ["-m", "nas.cli", "analyze", *map(str, small), "--json"]
    print(f"quickstart size (48 rows), `nas analyze --json`, beyond Python's start ({start[0]:.2f} s):")
    line("now (no figures)", command(*cli), start)
    line("before (figures drawn)", command(*cli, "--figures"), start)
    line("of which `import scipy.stats` before", command("-c", "import scipy.stats"), start)
    print(f"{sum(len(d.status) for d in frame.load_runs(runs)):,} rows, analyze() in this process:")
    line("now (no figures)", seconds(lambda: an.analyze(runs, settings=s)), key="analyze() now (no figures)")
    line("before (figures drawn)", seconds(lambda: an.analyze(runs, settings=s, figures=True)))
    line("with --report (figures, HTML)", seconds(lambda: an.analyze(runs, report=root / "r2", settings=s)))


if __name__ == "__main__":
    main()
