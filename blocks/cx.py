"""Analytic complexity bookkeeping shared by every block family.

A `Cx` carries the spatial size of the feature map and the running totals. FLOPs are
multiply-accumulates of convolutions, linear layers and matrix products (what
`FlopCounterMode` reports, halved, so analytic == measured holds exactly); bias adds, norms,
activations, pooling and element-wise ops are not counted. Parameters are every weight and
bias. Activations are the output elements of every Conv2d and Linear layer, per image.

pycls (`conv2d_cx`, `linear_cx`, `pool2d_cx` in pycls/models/blocks.py) counts the same
multiply-adds and parameters, but adds one FLOP per output element of a layer with a bias and
counts pooling outputs as activations. Its FLOPs are therefore higher by the bias adds (the
classifier's num_classes for RegNetX and ResNet: RegNetX-400MF is 397,677,568 here and
397,678,568 in pycls's dev/model_complexity.json; RegNetY adds its SE convs' biases too), and
its activations by the pooling outputs (ResNet-50: 200,704 more, from the stem's max pool).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Cx:
    """Feature-map size plus running complexity totals for one image.

    `smallest` is the smallest side the map has had since this Cx was made, so validation can
    refuse a part whose map vanishes anywhere inside it, even where pooling later hides that.
    """

    h: int
    w: int
    flops: int = 0
    params: int = 0
    acts: int = 0

    def __setattr__(self, name: str, value: int) -> None:
        if name in ("h", "w"):
            object.__setattr__(self, "smallest", min(value, getattr(self, "smallest", value)))
        object.__setattr__(self, name, value)


def conv_out(size: int, k: int, stride: int = 1, padding: int | None = None, dilation: int = 1):
    """Output length of a convolution or pooling window along one axis."""
    if padding is None:
        padding = dilation * (k - 1) // 2
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def conv2d(
    cx: Cx,
    w_in: int,
    w_out: int,
    k: int | tuple[int, int],
    *,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
    dilation: int = 1,
    padding: int | tuple[int, int] | None = None,
) -> Cx:
    """Account for an nn.Conv2d with 'same'-style padding unless `padding` is given."""
    kh, kw = (k, k) if isinstance(k, int) else k
    ph, pw = (padding, padding) if not isinstance(padding, tuple) else padding
    cx.h = conv_out(cx.h, kh, stride, ph, dilation)
    cx.w = conv_out(cx.w, kw, stride, pw, dilation)
    cx.flops += kh * kw * (w_in // groups) * w_out * cx.h * cx.w
    cx.params += kh * kw * (w_in // groups) * w_out + (w_out if bias else 0)
    cx.acts += w_out * cx.h * cx.w
    return cx


def linear(cx: Cx, w_in: int, w_out: int, *, tokens: int = 1, bias: bool = True) -> Cx:
    """Account for an nn.Linear applied to `tokens` vectors of width `w_in`."""
    cx.flops += tokens * w_in * w_out
    cx.params += w_in * w_out + (w_out if bias else 0)
    cx.acts += tokens * w_out
    return cx


def matmul(cx: Cx, batch: int, m: int, k: int, n: int) -> Cx:
    """Account for `batch` matrix products of (m x k) by (k x n); no params, no acts."""
    cx.flops += batch * m * k * n
    return cx


def norm(cx: Cx, width: int, *, affine: bool = True) -> Cx:
    """Account for a BatchNorm or LayerNorm: two parameters per channel when affine."""
    cx.params += 2 * width if affine else 0
    return cx


def pool2d(cx: Cx, k: int, *, stride: int = 1, padding: int | None = None) -> Cx:
    """Account for max or average pooling: only the spatial size changes."""
    cx.h = conv_out(cx.h, k, stride, padding)
    cx.w = conv_out(cx.w, k, stride, padding)
    return cx


def global_pool(cx: Cx) -> Cx:
    """Account for global average pooling to 1x1."""
    cx.h, cx.w = 1, 1
    return cx


def params(cx: Cx, count: int) -> Cx:
    """Account for free parameters (embeddings, bias tables, tokens) that compute nothing."""
    cx.params += count
    return cx
