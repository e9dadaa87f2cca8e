"""A folder dataset's files, checked before the first epoch: the bad-data policy.

`scan_folder` lists DIR/<class>/<file> (or DIR/<split>/<class>/<file>) and opens
each image's header with Pillow (no pixels are decoded), so a bad file is found
before training starts, not halfway through an epoch. The policy, per case:

- not an image (suffix other than .png/.jpg/.jpeg/.bmp/.gif): skipped, counted.
- unreadable (Pillow cannot identify it) or truncated (a JPEG without its
  end-of-image marker, a PNG without its IEND chunk): skipped, counted.
- an empty class folder: the class is kept (labels follow the folder names, so
  a model trained here labels like one trained on the full data) and recorded.
- grayscale, palette, RGBA, CMYK or 16-bit images: converted when decoded: to
  the dataset's channels (RGB if any image is in colour), CMYK by the JPEG
  decoder (as Pillow), 16-bit by scaling (v / 257, not clipping); counted.

Every skip is a {"path", "reason"} row in the Dataset's info["skipped"], which
`zoo train` writes to the run folder as skipped.json. A file that passes the scan
and still fails to decode (damage inside the data) is dropped by the streamed
pipeline with a warning naming it (tf.data's ignore_errors), never silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnn_zoo.data.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_TAIL = 64  # bytes read from a file's end to find its end marker


@dataclass
class FolderScan:
    files: list[str]            # readable images, in class then file-name order
    labels: np.ndarray          # (N,) int32
    classes: tuple[str, ...]
    modes: list[str]            # Pillow mode of each file
    sizes: list[tuple[int, int]]  # (height, width) of each file
    skipped: list[dict] = field(default_factory=list)
    has_splits: bool = False

    @property
    def converted(self) -> int:
        return sum(m not in ("RGB",) and not (m == "L" and self.grey) for m in self.modes)

    @property
    def grey(self) -> bool:
        return bool(self.modes) and all(m in GREY_MODES for m in self.modes)

    def pixel_bytes(self, channels: int) -> int:
        """Decoded size of every image as uint8, estimated from the headers."""
        return int(sum(h * w for h, w in self.sizes)) * channels


def _class_dirs(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


def _truncated(path: Path, fmt: str) -> bool:
    marker = {"JPEG": b"\xff\xd9", "PNG": b"IEND"}.get(fmt)
    if marker is None:
        return False
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - _TAIL))
        return marker not in f.read()


def scan_folder(root: Path, split: str) -> FolderScan:
    """The files of `split` ("train" or "test") under root, each checked (see the module doc)."""
    from PIL import Image, UnidentifiedImageError  # only folder sources need Pillow

    if not root.is_dir():
        raise DataError(f"folder:{root}: no such directory")
    has_splits = (root / "train").is_dir()
    base = root / "train" if has_splits else root
    classes = [p.name for p in _class_dirs(base)]
    if not classes:
        raise DataError(f"folder:{root}: no class sub-folders in {base}; expected one folder per "
                        "class holding .png/.jpg images (and optionally train/ and test/ above them)")
    split_root = root / split if has_splits else root
    if has_splits and split == "test" and not split_root.is_dir() and (root / "val").is_dir():
        split_root = root / "val"  # ImageNet's layout: train/ and val/
    if has_splits and not split_root.is_dir():
        raise DataError(f"folder:{root}: has train/ but no {split}/ folder (for the test split: "
                        "test/ or val/)")
    files, labels, modes, sizes, skipped = [], [], [], [], []
    for d in _class_dirs(split_root):
        if d.name not in classes:
            raise DataError(f"folder:{root}: class folder {split}/{d.name} is not among the "
                            f"train classes ({', '.join(classes)})")
        found = 0
        for p in sorted(q for q in d.iterdir() if q.is_file()):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append({"path": str(p), "reason": f"not an image file ({p.suffix or 'no suffix'})"})
                continue
            try:
                with Image.open(p) as im:
                    fmt, mode, (w, h) = im.format, im.mode, im.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
                skipped.append({"path": str(p), "reason": f"unreadable: {e}"})
                continue
            if _truncated(p, fmt):
                skipped.append({"path": str(p), "reason": f"truncated {fmt} (no end marker)"})
                continue
            files.append(str(p))
            labels.append(classes.index(d.name))
            modes.append(mode)
            sizes.append((h, w))
            found += 1
        if not found:
            skipped.append({"path": str(d), "reason": "empty class folder: the class is kept "
                                                      f"(label {classes.index(d.name)}), with no images"})
    if not files:
        raise DataError(f"folder:{split_root}: no readable images ({', '.join(IMAGE_SUFFIXES)}) in "
                        f"its class folders ({len(skipped)} files skipped)")
    return FolderScan(files, np.asarray(labels, np.int32), tuple(classes), modes, sizes, skipped,
                      has_splits)


def decode_pil(path: str, channels: int) -> np.ndarray:
    """One image as uint8 (H, W, channels) with the policy's conversions (Pillow, the
    in-memory path and the PyDataset path; tf.io.decode_image converts alike)."""
    from PIL import Image  # Pillow: only where image files are decoded

    with Image.open(path) as im:
        im.load()
        if im.mode.startswith("I;16") or im.mode in ("I", "F"):
            # 16-bit: scale to 8 bits (Pillow's convert("L") would clip at 255)
            a = np.asarray(im, np.float64)
            top = 65535.0 if im.mode != "F" or a.max() > 1 else 1.0
            a = np.clip(np.round(a * 255.0 / top), 0, 255).astype(np.uint8)
            im = Image.fromarray(a, "L")
        im = im.convert("L" if channels == 1 else "RGB")
        return np.asarray(im, np.uint8).reshape(im.size[1], im.size[0], channels)
