"""Synthetic image folders in the real formats (JPEG, PNG), for the streaming tests and bench/."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def photo(rng, h, w):
    """A smooth random colour image (JPEG-friendly, unlike white noise)."""
    small = rng.integers(0, 256, (max(h // 16, 2), max(w // 16, 2), 3), dtype=np.uint8)
    from PIL import Image

    return np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))


def write_folder(root, classes=3, per_class=4, size=(60, 80), splits=("train", "val"), seed=0,
                 vary=True, quality=90):
    """root/<split>/<class>/<i>.JPEG, sizes varying around `size` (ImageNet's layout)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    for split in splits:
        for c in range(classes):
            d = root / split / f"n{c:08d}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                h, w = size
                if vary:
                    h, w = h + int(rng.integers(-h // 4, h // 4 + 1)), w + int(rng.integers(-w // 4, w // 4 + 1))
                Image.fromarray(photo(rng, h, w)).save(d / f"{i:05d}.JPEG", quality=quality)
    return root
