"""What a trial asks of the cluster against what its nodes have: refusing a request no node can
grant (Ray would wait forever), and packing several trials on one GPU (resources.pack_gpus)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from blocks.errors import UserError
from nas.config import Experiment
from nas.sweeping import memory
from nas.sweeping.plan import Run, SampleRun
from nas.training import datasets as datamod
from nas.training.stream import usable_cpus


def check_fits(exp: Experiment, nodes: list[dict[str, float]] | None = None) -> None:
    """Refuse, before any trial, a per-trial request that no node of the cluster (`nodes`, else
    its live ones now) can grant (Ray would wait for it forever)."""
    nodes = alive_nodes() if nodes is None else nodes
    refuse_unfit(exp, nodes, f"the largest of the cluster's {len(nodes)} node(s)")


def alive_nodes() -> list[dict[str, float]]:
    """The resources of the cluster's live nodes, each one's memory (bytes) counting its object store."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    return [{**n, "memory": n.get("memory", 0.0) + n.get("object_store_memory", 0.0)} for n in nodes]


def this_machine() -> dict[str, float]:
    """What a local Ray would find here: the CPUs this process may use, the CUDA devices and the memory."""
    import torch

    return {
        "CPU": float(usable_cpus()),
        "GPU": float(torch.cuda.device_count()),
        "memory": float(memory.machine()),
    }


def refuse_unfit(exp: Experiment, nodes: list[dict[str, float]], where: str) -> None:
    """A UserError when a trial asks for more CPUs, GPUs or memory than the largest of `nodes` has."""
    res = exp.resources
    for field, key, unit in (
        ("cpus_per_trial", "CPU", 1.0),
        ("gpus_per_trial", "GPU", 1.0),
        ("memory_gb_per_trial", "memory", memory.GB),
    ):
        asked, largest = getattr(res, field), max((n.get(key, 0.0) for n in nodes), default=0.0) / unit
        if asked > largest:
            what = "GB of memory" if key == "memory" else f"{key}(s)"
            raise UserError(
                f"{exp.source}: resources.{field}: {asked:g} asked per trial, but "
                f"{where} has {largest:g} {what}; lower it or add such a node"
            )


def packed(
    exp: Experiment,
    runs: list[Run],
    data: datamod.Dataset,
    nodes: list[dict[str, float]],
    gpu_bytes: Callable[[], int],
) -> Experiment:
    """With resources.pack_gpus, the experiment asking 1/k GPU per trial, k the trials that share
    one GPU (memory.trials_per_gpu, on the node with the most CPUs per GPU); printed. Unchanged
    without it."""
    res = exp.resources
    if not res.pack_gpus:
        return exp
    where = f"{exp.source}: resources.pack_gpus"
    gpu_nodes = [n for n in nodes if n.get("GPU", 0.0) >= 1]
    if not gpu_nodes:
        raise UserError(f"{where}: no GPU here ({len(nodes)} node(s), none with a whole GPU); set it false")
    entries = [e.complexity for r in runs if isinstance(r, SampleRun) for e in r.plan if not e.rejected]
    if not entries:
        raise UserError(f"{where}: needs sample mode's planned specs; set gpus_per_trial instead")
    need = memory.gpu_need(entries, exp.training.batch_size, memory.resident(data))
    per_gpu = max(n["CPU"] / n["GPU"] for n in gpu_nodes)
    have = gpu_bytes()
    k = memory.trials_per_gpu(need, have, per_gpu, res.cpus_per_trial)
    print(
        f"packing {k} trial(s) per GPU (gpus_per_trial {1 / k:.4g}): largest model needs about "
        f"{memory.gb(need)} of a {memory.gb(have)} GPU, {per_gpu:g} CPUs per GPU",
        flush=True,
    )
    return replace(exp, resources=replace(res, gpus_per_trial=1 / k, pack_gpus=False))


def local_gpu_bytes() -> int:
    """Memory of this machine's first CUDA device."""
    import torch

    return torch.cuda.get_device_properties(0).total_memory


def cluster_gpu_bytes() -> int:
    """Memory of a cluster's GPU: this machine's when it has one, else as a one-GPU Ray task finds it."""
    import ray
    import torch

    if torch.cuda.is_available():
        return local_gpu_bytes()
    return ray.get(ray.remote(num_gpus=1, num_cpus=0)(local_gpu_bytes).remote(), timeout=600)
