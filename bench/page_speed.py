"""Benchmark: how long `zoo page` takes to write a page, how big the file is, how fast Chromium opens it.

Targets: a GoogLeNet page with an image under 10 s and 15 MB; a LeNet-5 page under
3 s and 2 MB; every page open in Chromium (scripts run, ready) under 2 s.

Pages measured, each written ``--repeat`` times in this process (after the imports; the first
write includes loading the weights):

- ``lenet5.mnist`` with one MNIST-sized digit (the tag's own weights);
- ``googlenet.fashion_mnist`` with one image (the tag's own weights, 32×32 input);
- GoogLeNet at 224×224 with 1,000 classes and an image: ``googlenet_bn`` with the
  ``googlenet_bn.imagenet`` tag's preprocessing and labels. The publisher's file cannot be
  downloaded here, so its weights are random, saved once to a .weights.h5 and loaded inside the
  timed region (as ``zoo.load`` would load the converted file); the work is the same.
- ``googlenet`` without weights (shapes only), the page of ``zoo page googlenet``.

The CLI's wall time (a fresh process: Python, TensorFlow's import, then the page) is timed once
for the LeNet-5 page. The load average is printed beside the figures: on a shared machine they
are indicative.

    python bench/page_speed.py [--repeat 3] [--out DIR] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cores, cpu_name  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def photo(path: Path, size=(640, 480)) -> Path:
    """A synthetic colour photo (gradients and shapes), any size: no download."""
    from PIL import Image, ImageDraw

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], -1).astype(np.uint8)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    draw.ellipse((w // 4, h // 4, w // 2, h // 2), fill=(230, 40, 40))
    draw.rectangle((w // 2, h // 2, 3 * w // 4, 7 * h // 8), fill=(20, 20, 160))
    image.save(path, quality=92)
    return path


def digit(path: Path) -> Path:
    from PIL import Image

    a = np.zeros((28, 28), np.uint8)
    a[5:23, 12:16] = 255
    a[5:9, 9:16] = 255
    Image.fromarray(a).save(path)
    return path


def imagenet_model(weights: Path):
    """googlenet_bn at 224 with the imagenet tag's arguments and zoo_info, random weights loaded from ``weights``."""
    import cnn_zoo as zoo
    from cnn_zoo import hub

    info = hub.info("googlenet_bn.imagenet")
    model = zoo.get_model("googlenet_bn", **info.kwargs)
    if weights.exists():
        model.load_weights(weights)
    else:
        model.save_weights(weights)
    model.zoo_info = info
    return model


def time_writes(name, make, images, out: Path, repeat: int) -> dict:
    import cnn_zoo as zoo

    times, written = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        written = zoo.page(make(), images=images, out=out)
        times.append(time.perf_counter() - start)
    return {"page": name, "write_s": times, "bytes": written.size, "path": out}


def open_times(paths, repeat: int, screenshots: Path | None) -> dict:
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        for path in paths:
            times = []
            for i in range(repeat):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                start = time.perf_counter()
                page.goto(path.resolve().as_uri())
                page.wait_for_function("window.zooPage && window.zooPage.ready")
                times.append(time.perf_counter() - start)
                if screenshots is not None and i == 0:
                    page.screenshot(path=screenshots / f"{path.stem}.png", full_page=False)
                context.close()
            found[path] = times
        browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="folder for the pages (default: a temporary one)")
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of each page here")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="page-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()

    import keras  # noqa: F401  (imported before the timed region, as a running process has it)

    rows = []
    small, big = digit(folder / "digit.png"), photo(folder / "photo.jpg")
    rows.append(time_writes("lenet5.mnist + 1 digit", lambda: "lenet5.mnist", [small],
                            folder / "lenet5.mnist.html", args.repeat))
    rows.append(time_writes("googlenet.fashion_mnist + 1 image", lambda: "googlenet.fashion_mnist", [big],
                            folder / "googlenet.fashion_mnist.html", args.repeat))
    weights = folder / "googlenet_bn-random.weights.h5"
    imagenet_model(weights)  # writes the random weights once, outside the timing
    rows.append(time_writes("googlenet_bn 224×224, 1000 classes + 1 photo", lambda: imagenet_model(weights), [big],
                            folder / "googlenet_bn.imagenet.html", args.repeat))
    rows.append(time_writes("googlenet (shapes only)", lambda: "googlenet", [], folder / "googlenet.html",
                            args.repeat))

    zoo_script = Path(sys.executable).with_name("zoo")
    start = time.perf_counter()
    subprocess.run([str(zoo_script), "page", "lenet5.mnist", "--image", str(small), "--out",
                    str(folder / "cli-lenet5.html")], check=True, stdout=subprocess.DEVNULL)
    cli = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras, cnn_zoo.page.writer"], check=True)
    imports = time.perf_counter() - start

    opens = open_times([r["path"] for r in rows], args.repeat, args.screenshots)
    load_after = os.getloadavg()

    print(f"machine: {cpu_name()}, {cores()} cores; load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f} (1 min)")
    print("| page | write (median of {0}, first) | file | open in Chromium (median of {0}) |".format(args.repeat))
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['page']} | {statistics.median(r['write_s']):.2f} s ({r['write_s'][0]:.2f} s) | "
              f"{r['bytes'] / 1e6:.2f} MB | {statistics.median(opens[r['path']]):.2f} s |")
    print(f"CLI, fresh process (Python + TensorFlow import + page), lenet5.mnist + 1 digit: {cli:.1f} s, "
          f"of which a bare `import keras, cnn_zoo.page.writer` takes {imports:.1f} s")


if __name__ == "__main__":
    main()
