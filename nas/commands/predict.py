"""`nas predict SPEC_OR_EXPORT IMAGE [--out MASK.png]`: run an exported network on one image; a
segmentation network's mask is written as a coloured PNG, a classifier's top class printed."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `nas predict`."""
    p = sub.add_parser(
        "predict",
        help="run an exported network on one image: a segmentation mask as a coloured PNG, or the top class",
    )
    p.add_argument(
        "source", metavar="SPEC_OR_EXPORT", help="an export folder, or its spec.yaml (weights.pt beside it)"
    )
    p.add_argument(
        "image", metavar="IMAGE", help="an image file (prepared as the network's training images were)"
    )
    p.add_argument(
        "--out", default=None, help="segmentation: the mask PNG to write (class index per pixel, coloured)"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from nas import api

    found = api.predict(args.source, args.image, out=args.out)
    if found.task == "segmentation":
        shares = ", ".join(f"{name} {share:.1%}" for name, share in found.shares.items())
        print(f"wrote {found.out}: {shares}")
    else:
        print(f"{found.image}: {found.label} ({found.probability:.1%})")
    return 0
