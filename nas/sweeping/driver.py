"""`nas sweep`: sample specs from each design space of an experiment and train them as Ray
Tune trials, appending one row per finished trial to the run's results store.

Everything that can be wrong with the input is checked in planning (`nas.sweeping.plan`),
before Ray starts. The dataset is loaded once in the driver and shared with every trial
through Ray's object store (`tune.with_parameters`). The jobs this drives live beside it:
Ray's start (`ray_start`), resources and GPU packing (`resources`), the Tuners (`tuners`),
their callbacks (`callbacks`) and the sweep's folder (`sweep_folder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from blocks.errors import ArgError, UserError
from nas import config as cfgmod
from nas.config import Experiment
from nas.records import store
from nas.sweeping import compare, interrupts, ray_start, resources, sweep_folder, tuners
from nas.sweeping.callbacks import require_mlflow
from nas.sweeping.interrupts import Interrupted
from nas.sweeping.plan import Run, prepare
from nas.sweeping.plan import resume as resume_plan
from nas.training import datasets as datamod


def execute(exp: Experiment, runs: list[Run], data: datamod.Dataset, out: Path, address: str | None) -> None:
    """Run every pending trial of every run through Ray Tune (local Ray unless `address`)."""
    total = sum(r.todo for r in runs)
    if exp.compare and tuners.decided(out):
        return
    if not total and exp.compare:
        compare.run_rounds(compare.read(out), out, tuners.no_trials)  # every row is in: the looks from them
        return
    if not total:
        print("nothing to do: every trial of this sweep has a recorded row")
        return
    import ray

    if address is None and not ray.is_initialized():
        here = [resources.this_machine()]
        exp = resources.packed(exp, runs, data, here, resources.local_gpu_bytes)
        resources.refuse_unfit(exp, here, "this machine")  # before Ray starts: no wait
    require_mlflow(exp)
    interrupts.check()
    with ray_start.tune_env():
        started = ray_start.init_ray(address)
        try:
            interrupts.check()
            nodes = resources.alive_nodes()
            exp = resources.packed(exp, runs, data, nodes, resources.cluster_gpu_bytes)
            resources.check_fits(exp, nodes)
            tuners.fit(exp, runs, data, out, total)
        except Exception as err:
            interrupts.check()  # whatever Tune raised on its way out, a signal stopped it
            if isinstance(err.__context__, UserError):  # a full disk in a callback: Tune wraps it
                raise err.__context__ from None
            raise
        finally:
            if started:
                import ray

                ray.shutdown()


def sweep(
    path: str | None,
    out: str | None = None,
    address: str | None = None,
    resume: str | None = None,
    overrides: Sequence[str] = (),
) -> list[Run]:
    """Sample, train and record a whole experiment (`overrides`: `PATH=VALUE` settings applied to
    the file before validation), or finish a killed one with `resume`. SIGINT, SIGTERM and
    SIGHUP raise Interrupted, saying how far it got, after Ray is shut down."""
    if resume and overrides:
        raise ArgError(
            "",
            "{overrides} goes with a new sweep; a resumed sweep keeps its recorded experiment",
            ["overrides"],
        )
    out_dir = Path(resume) if resume else None
    try:
        with interrupts.catching(), ExitStack() as held:
            with interrupts.raising():
                ray_start.check_address(address)
            if resume:
                if not out_dir.is_dir():
                    raise UserError(f"{out_dir}: no such sweep folder to resume")
                held.enter_context(store.lock(out_dir))
                with interrupts.raising():
                    exp, runs = resume_plan(out_dir, path)
                    data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
                print(f"resuming {out_dir}: finishing what has no row yet")
            else:
                with interrupts.raising():
                    exp = cfgmod.load(path, overrides)
                out_dir = Path(out) if out else sweep_folder.default_out(Path("runs") / exp.name)
                sweep_folder.check_new_out(out_dir)
                made = not out_dir.exists()
                held.enter_context(store.lock(out_dir))
                with interrupts.raising():
                    data = datamod.load(exp.dataset.name, exp.dataset.params, exp.source)
                print(
                    f"sweep '{exp.name}' ({exp.search.mode}): {len(exp.spaces)} space(s) x {exp.samples} samples "
                    f"on {data.name} {tuple(data.input_shape)}, {exp.training.epochs} epochs each -> {out_dir}"
                )
                runs = prepare(exp, out_dir, data)
            try:
                execute(exp, runs, data, out_dir, address)
            except UserError:
                if not resume:
                    sweep_folder.undo_unstarted(out_dir, made)
                raise
    except Interrupted as stop:
        line = (
            sweep_folder.interrupted_line(out_dir)
            if out_dir
            else "interrupted before the sweep folder was known"
        )
        raise Interrupted(stop.signum, line) from None
    return runs
