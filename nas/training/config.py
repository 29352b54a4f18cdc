"""The training section of an experiment: what one trial's loop needs, declared beside the loop
so that training stands below the experiment file that holds it (nas.config)."""

from __future__ import annotations

from dataclasses import dataclass

from blocks.schema import declared, section
from nas.training.augment import Augment


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = declared(int, 5, "epochs per trial", low=1, high=10_000)
    batch_size: int = declared(int, 64, "images per step", low=1, high=65_536)
    lr: float = declared(float, 0.1, "peak learning rate (SGD, cosine schedule)", low=0.0, high=100.0)
    momentum: float = declared(float, 0.9, "SGD momentum", low=0.0, high=1.0)
    nesterov: bool = declared(bool, True, "Nesterov momentum")
    weight_decay: float = declared(float, 5e-5, "weight decay (not of norms and biases)", low=0.0, high=1.0)
    warmup_epochs: int = declared(int, 0, "epochs of linear warm-up, below epochs", low=0, high=10_000)
    label_smoothing: float = declared(float, 0.0, "label smoothing of the loss", low=0.0, high=0.99)
    amp: bool = declared(bool, True, "mixed precision on CUDA (bfloat16 where the GPU has it, else float16)")
    channels_last: bool = declared(bool, True, "channels-last memory format on CUDA")
    compile: bool = declared(
        bool, False, "torch.compile each model (CUDA graphs for small ones on CUDA), compile time kept apart"
    )
    augment: Augment = section(Augment)
