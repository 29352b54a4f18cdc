"""Training-time augmentation of a whole batch on its own device: random crop with zero
padding, horizontal flip and cutout, vectorised over the batch and reproducible from a
torch.Generator. Batches are already standardised, so a zero fill is the mean colour."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from blocks.schema import declared

MAX_PIXELS = 1024


def _draw(high: int, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """n integers in [0, high) from gen, drawn on gen's device (a CPU generator may feed a CUDA batch)."""
    return torch.randint(high, (n,), generator=gen, device=gen.device).to(device)


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Pad each (N, C, H, W) image with `padding` zeros a side, then crop it back at a random offset."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top, left = _draw(2 * padding + 1, n, gen, x.device), _draw(2 * padding + 1, n, gen, x.device)
    rows = (top[:, None] + torch.arange(h, device=x.device))[:, :, None]
    cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None]
    # the advanced indices around the channel slice put their (N, H, W) dims first
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)


def random_hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = (torch.rand(len(x), generator=gen, device=gen.device) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero a size x size square, clipped at the borders, around a random centre of each image
    (DeVries & Taylor, 2017)."""
    n, _, h, w = x.shape
    top = _draw(h, n, gen, x.device) - size // 2
    left = _draw(w, n, gen, x.device) - size // 2
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    in_rows = (ys >= top[:, None]) & (ys < top[:, None] + size)
    in_cols = (xs >= left[:, None]) & (xs < left[:, None] + size)
    return x.masked_fill(in_rows[:, None, :, None] & in_cols[:, None, None, :], 0)


def draws_on(gen: torch.Generator, device: torch.device | str) -> torch.Generator:
    """Where an epoch's augmentation draws come from: `gen` itself on the CPU; on a GPU a generator
    there, seeded once from `gen`, so no per-batch draw is copied from the host (a copy from
    pageable memory can wait for the GPU's queued work)."""
    if torch.device(device).type == "cpu":
        return gen
    local = torch.Generator(device=device)
    local.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
    return local


@dataclass(frozen=True)
class Augment:
    """Which augmentations training batches get (`training.augment`); all off by default."""

    crop_padding: int = declared(
        int, 0, "zero padding before a random crop back to size (pixels, 0 = off)", low=0, high=MAX_PIXELS
    )
    hflip: bool = declared(bool, False, "mirror each image left-right with probability 1/2")
    cutout: int = declared(
        int, 0, "side of the square zeroed around a random centre (pixels, 0 = off)", low=0, high=MAX_PIXELS
    )

    @property
    def enabled(self) -> bool:
        return bool(self.crop_padding or self.hflip or self.cutout)

    def apply(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment a training batch (N, C, H, W): crop, then flip, then cutout.

        Options that are off draw nothing from gen, so a disabled Augment returns x itself.
        """
        if self.crop_padding:
            x = random_crop(x, self.crop_padding, gen)
        if self.hflip:
            x = random_hflip(x, gen)
        if self.cutout:
            x = cutout(x, self.cutout, gen)
        return x
