"""Input pipeline speed and memory: cnn-zoo's streamed folder pipeline against
torchvision's ImageFolder + DataLoader, on the same JPEGs with the same transforms.

1. Throughput: a folder of ImageNet-like JPEGs (default 5,000 at 500x375, quality 90,
   10 classes) read, decoded, random-resized-cropped to 224x224, flipped and normalised,
   in batches of 64, for one epoch (the first batch, which pays for start-up, not timed):
   - zoo: load_dataset(folder, stream=True) + make_pipeline (tf.data, AUTOTUNE map)
   - torchvision: ImageFolder + DataLoader(num_workers=cores) with RandomResizedCrop(224),
     RandomHorizontalFlip, ToTensor, Normalize.
   Each side runs in its own subprocess (torchvision imported after TensorFlow can crash
   through triton), one after the other, the zoo side first.
2. Peak memory (max RSS) of `zoo train` (lenet5_modern at 32x32, one epoch, streamed)
   on N1 against N2 images; the N2 folder repeats the N1 files under new names (hard
   links), which is the same work for the pipeline and saves writing 20,000 files.

    python bench/input_pipeline.py [--images 5000] [--memory 2000 20000] [--dir /tmp/zoo-bench]

Prints a markdown section for docs/benchmarks.md. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from machine import cores, cpu_name  # noqa: E402  (bench/machine.py)

ROOT = Path(__file__).resolve().parents[1]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
BATCH = 64




def make_images(root: Path, count: int, size=(375, 500), classes=10, quality=90) -> Path:
    """root/train/<class>/<i>.JPEG: smooth colour fields plus noise, so that the files are
    about the size of ImageNet's (~110 KB), not the few KB a flat image compresses to."""
    import numpy as np
    from PIL import Image

    done = root / f"done-{count}"
    if done.exists():
        return root / "train"
    rng = np.random.default_rng(0)
    h, w = size
    for i in range(count):
        d = root / "train" / f"n{i % classes:08d}"
        d.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), np.int16)
        noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(d / f"{i:06d}.JPEG", quality=quality)
    done.touch()
    return root / "train"


def link_copies(src: Path, dst: Path, count: int) -> Path:
    """dst/<class>/<k>.JPEG: `count` names, hard links to the files of src in turn."""
    files = sorted(src.rglob("*.JPEG"))
    for k in range(count):
        f = files[k % len(files)]
        d = dst / f.parent.name  # class folders at the top: an 80/20 split, as a user folder
        d.mkdir(parents=True, exist_ok=True)
        target = d / f"{k:06d}.JPEG"
        if not target.exists():
            os.link(f, target)
    return dst


# --------------------------------------------------------------------------- the two sides

def _timed_epoch(batches) -> dict:
    it = iter(batches)
    first = next(it)
    n, start = 0, time.perf_counter()
    for xb, _ in it:
        n += len(xb)
    seconds = time.perf_counter() - start
    return {"images": n, "seconds": round(seconds, 2), "images_per_second": round(n / seconds, 1),
            "first_batch_shape": list(first[0].shape)}


def side_zoo(folder: Path) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from cnn_zoo.data import load_splits, make_pipeline
    from cnn_zoo.data.stream import ImageFiles

    # The folder holds class folders only, so it loads as an 80/20 split: time all its files.
    splits = load_splits(f"folder:{folder}", stream=True)
    ds = splits["train"]
    x = ImageFiles(np.concatenate([ds.x.paths, splits["test"].x.paths]), 3)
    y = np.concatenate([ds.y, splits["test"].y])
    steps = [{"random_resized_crop": 224}, "random_flip", {"rescale": 1 / 255},
             {"normalize": {"mean": MEAN, "std": STD}}]
    pipe = make_pipeline(x, y, BATCH, steps=steps, shuffle=True, seed=0, augment=True,
                         backend="tensorflow")
    return _timed_epoch(pipe) | {"files": len(x)}


def side_torch(folder: Path) -> dict:
    import torch
    import torchvision
    from torchvision import datasets, transforms

    t = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                            transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    ds = datasets.ImageFolder(str(folder), transform=t)
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=cores())
    return _timed_epoch(loader) | {"files": len(ds), "torch": torch.__version__,
                                   "torchvision": torchvision.__version__}


def peak_train_memory(folder: Path, run_dir: Path) -> dict:
    code = f"""
import json, resource, time
from cnn_zoo.train import train
start = time.perf_counter()
r = train("default", {str(run_dir)!r}, verbose=0, overrides=[
    "dataset.source=folder:{folder}", "dataset.stream=true", "model.name=lenet5_modern",
    "epochs=1", "batch_size=64",
    "preprocessing=[{{resize: [32, 32]}}, channels: 1, {{rescale: 0.00392156862745098}}]"])
print(json.dumps({{"status": r.status, "seconds": round(time.perf_counter() - start, 1),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "images_per_second": round(r.images_per_second, 1)}}))
"""
    return _child(["-c", code])


def _child(args) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--memory", type=int, nargs=2, default=[2000, 20000])
    ap.add_argument("--dir", default="/tmp/zoo-bench")
    ap.add_argument("--side", choices=["zoo", "torch"])
    ap.add_argument("--folder")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if args.side:  # a child: one side, one JSON line
        fn = side_zoo if args.side == "zoo" else side_torch
        print(json.dumps(fn(Path(args.folder))))
        return
    base = Path(args.dir)
    t0 = time.perf_counter()
    folder = make_images(base / "photos", args.images)
    made = time.perf_counter() - t0
    load_before = os.getloadavg()
    results = {side: _child([__file__, "--side", side, "--folder", str(folder)]) for side in ("zoo", "torch")}
    load_after = os.getloadavg()
    n = cores()
    print(f"## Input pipeline: streamed folder against torchvision (bench/input_pipeline.py), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print(f"{cpu_name()}, {n} cores, load average "
          f"{load_before[0]:.1f} before / {load_after[0]:.1f} after (shared machine: indicative). "
          f"{results['zoo']['files']} JPEGs 500x375 q90 (made in {made:.0f} s), one epoch, batch {BATCH}, "
          "random-resized-crop 224, flip, normalise.\n")
    print("| pipeline | images/s | images/s per core | seconds |")
    print("| --- | ---: | ---: | ---: |")
    for side, label in (("zoo", "cnn-zoo tf.data (stream)"),
                        ("torch", f"torchvision {results['torch']['torchvision']} ImageFolder + DataLoader "
                                  f"(num_workers={n})")):
        r = results[side]
        print(f"| {label} | {r['images_per_second']:.0f} | {r['images_per_second'] / n:.0f} | {r['seconds']} |")
    print(f"\nratio zoo / torchvision: {results['zoo']['images_per_second'] / results['torch']['images_per_second']:.2f}\n")
    if args.skip_memory:
        return
    rows = []
    for count in args.memory:
        src = make_images(base / f"mem-{args.memory[0]}", args.memory[0])
        folder = link_copies(src, base / f"mem-links-{count}", count)
        import shutil
        shutil.rmtree(base / f"run-{count}", ignore_errors=True)
        rows.append((count, peak_train_memory(folder, base / f"run-{count}")))
    print("| images | peak RSS of zoo train (MiB) | seconds | train images/s |")
    print("| ---: | ---: | ---: | ---: |")
    for count, r in rows:
        print(f"| {count:,} | {r['peak_rss_mib']} | {r['seconds']} | {r['images_per_second']} |")


if __name__ == "__main__":
    main()
