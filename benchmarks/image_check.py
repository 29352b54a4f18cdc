"""What the up-front check of a streamed image folder costs per image and core, next to a plain
full Pillow decode of the same files measured in the same run.

    python benchmarks/image_check.py            # 300 JPEGs of 500 x 375 (about ImageNet's), size 224 and 32
    python benchmarks/image_check.py --quick    # 40 JPEGs, for a test

The check decodes each image as evaluation does: a JPEG at the draft scale the crop allows (less
than a full decode only when the image is at least twice the crop's side), then the crop's
resize. Its figure times ImageNet's 1.33 M images gives the check's CPU time there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from nas.training import stream
from nas.training.datasets import class_files

IMAGENET_TRAIN_VAL = 1_331_167  # ImageNet-1k training plus validation images


def photos(root: Path, n: int) -> stream.Files:
    """n photo-like 500 x 375 JPEGs (gradients and grain, quality 90) in two class folders."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:375, 0:500]
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        base = np.stack([(x * (i % 7 + 1) + y * 3) % 256, (y * (i % 5 + 2)) % 256, (x + y) % 256], -1)
        grain = rng.normal(0, 12, base.shape)
        Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
    return stream.Files.of("root", root, class_files(root, "root", {"a": 0, "b": 1}))


def per_image(fn, n: int) -> float:
    """Milliseconds per image of fn() over n images."""
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="40 images")
    n = 40 if p.parse_args().quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        files = photos(Path(tmp), n)
        paths = [Path(files.root) / name for name in files.names]
        kb = sum(q.stat().st_size for q in paths) / n / 1e3
        full = per_image(lambda: [Image.open(q).convert("RGB") for q in paths], n)
        print(f"{n} JPEGs of 500 x 375, {kb:.0f} kB each on average; one core")
        print(f"    full Pillow decode       {full:6.2f} ms/image")
        for size in (224, 32):
            ms = per_image(lambda size=size: stream.check_readable([files], size, False, workers=0), n)
            minutes = ms * IMAGENET_TRAIN_VAL / 60_000
            print(
                f"    check at size {size:<4}       {ms:6.2f} ms/image  {ms / full:5.2f}x full decode  "
                f"ImageNet: {minutes:4.0f} CPU-minutes"
            )


if __name__ == "__main__":
    main()
