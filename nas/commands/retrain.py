"""`nas retrain SPEC --epochs N`: train a spec from scratch with an experiment's recipe and save
its weights (in the run's retrained/ folder when the model is one of its trials; the sweep's
kept weights are never replaced)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("retrain", help="train a spec from scratch with an experiment's recipe; save weights")
    p.add_argument("spec", help="spec file (an exported spec.yaml too), zoo name, or a model id of --run")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs to train (default: the recipe's)")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--experiment", metavar="EXP.yaml", help="experiment file whose dataset and training settings to use"
    )
    src.add_argument(
        "--run",
        dest="run_dir",
        metavar="RUN_DIR",
        help="run directory (or sweep folder) whose experiment to use",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="weights file (default: RUN/retrained/<model_id>-<N>ep-seed<S>.pt for a run's model, else "
        "./<model_id>-<N>ep-seed<S>.pt; never the run's weights/, which hold the sweep's trials')",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--seed", type=int, metavar="S", help="training seed (default: the trial's seed, else 0)")
    p.add_argument(
        "--threads",
        type=int,
        metavar="T",
        help="CPU threads (default: the experiment's resources.cpus_per_trial, as the sweep's trials; "
        "the thread count changes the result)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    import time

    from nas import api

    start = time.perf_counter()
    planned = []

    def header(plan) -> None:
        nonlocal start
        spec, epochs = plan.spec, plan.training.epochs
        print(
            f"retraining {spec.model_id} ({api.complexity(spec).params:,} params) on {plan.data.name} "
            f"{list(plan.data.input_shape)} for {epochs} epoch{'s' * (epochs != 1)}, seed {plan.seed}, "
            f"{plan.threads} thread(s) -> {plan.out}",
            flush=True,
        )
        planned.append(plan)
        start = time.perf_counter()

    def progress(epoch: int, m: dict) -> None:
        epochs = planned[0].training.epochs
        print(
            f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {m['loss']:.4f}  train error "
            f"{m['train_error']:6.2f}%  val error {m['val_error']:6.2f}%  ({time.perf_counter() - start:.1f}s)",
            flush=True,
        )

    out, result = api.retrain(
        args.spec,
        args.epochs,
        experiment=args.experiment,
        run=args.run_dir,
        seed=args.seed,
        out=args.out,
        threads=args.threads,
        force=args.force,
        on_start=header,
        on_epoch=progress,
    )
    plan = planned[0]
    if plan.run is None:
        follow = f"nas export {args.spec} --weights {out}"
    else:
        follow = f"nas export {plan.run} --id {plan.spec.model_id} --weights {out}"
    print(f"saved {out} (val error {result.error:.2f}%); export it with `{follow}`")
    return 0
