"""Joint augmentation of segmentation batches: random scale, crop and horizontal flip drawn once
per image and applied as one affine resampling to the image (bilinear) and its mask (nearest
neighbour), so both keep the same geometry. Where the crop leaves the scaled image, the image
is zero (the mean colour, batches being standardised) and the mask is `ignore_index`.
Offsets are whole pixels of the scaled image, so at scale 1 every pixel is copied exactly."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nas.training.segmetrics import IGNORE_INDEX


def _uniform(low: float, high: float, n: int, gen: torch.Generator) -> torch.Tensor:
    """n floats in [low, high) from gen, on gen's device."""
    return low + (high - low) * torch.rand(n, generator=gen, device=gen.device, dtype=torch.float64)


@dataclass(frozen=True)
class JointAugment:
    """Random scale in [scale_min, scale_max], a crop of `crop` pixels a side (0: the stored size)
    and a left-right flip with probability 1/2 (hflip), the same for an image and its mask."""

    scale_min: float = 1.0
    scale_max: float = 1.0
    crop: int = 0
    hflip: bool = False
    ignore_index: int = IGNORE_INDEX

    @property
    def enabled(self) -> bool:
        return self.scale_min != 1.0 or self.scale_max != 1.0 or bool(self.crop) or self.hflip

    def apply(
        self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) float and masks (N, H, W) int64, augmented; off: returned as they are."""
        if not self.enabled:
            return x, y
        n, _, h, w = x.shape
        ch, cw = (self.crop, self.crop) if self.crop else (h, w)
        scale = _uniform(self.scale_min, self.scale_max, n, gen)
        sh, sw = (scale * h).round(), (scale * w).round()

        def offset(span: torch.Tensor, size: int) -> torch.Tensor:
            # a whole-pixel offset of the crop in the scaled image: inside it, or padding round it
            room = span - size
            low, high = (
                torch.minimum(room, torch.zeros_like(room)),
                torch.maximum(room, torch.zeros_like(room)),
            )
            return (low + torch.floor((high - low + 1) * _uniform(0.0, 1.0, n, gen))).clamp(max=high)

        top, left = offset(sh, ch), offset(sw, cw)
        sign = torch.ones(n, dtype=torch.float64, device=gen.device)
        if self.hflip:
            sign[torch.rand(n, generator=gen, device=gen.device) < 0.5] = -1.0
        # output coordinates (normalised, pixel centres) to the input's: x_in = a x_out + b
        theta = torch.zeros(n, 2, 3, dtype=torch.float64, device=gen.device)
        theta[:, 0, 0] = sign * cw / sw
        theta[:, 0, 2] = (cw + 2 * left) / sw - 1
        theta[:, 1, 1] = ch / sh
        theta[:, 1, 2] = (ch + 2 * top) / sh - 1
        theta = theta.to(device=x.device, dtype=torch.float32)
        grid = F.affine_grid(theta, [n, 1, ch, cw], align_corners=False)
        image = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # labels shifted up by one, so the zeros sampled outside the image mark ignored pixels
        shifted = (y.to(torch.float32) + 1).unsqueeze(1)
        labels = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        labels = labels.squeeze(1).round().long() - 1
        return image, labels.masked_fill_(labels < 0, self.ignore_index)
