"""Parity of the ImageNet GoogLeNet converters: the zoo's logits against the publisher's runtime.

For each source (torchvision: the real ``torchvision.models.googlenet``; bvlc:
an ONNX graph of the model zoo's structure and names, run by onnxruntime),
stand-in weights are made as the tests make them (tests/convert_fixtures.py,
tests/bvlc_graph.py), converted, and the logits compared on random 224×224
images, per Keras backend (each in its own process). Prints a Markdown table
for docs/benchmarks.md: max |Δlogit|, that over max |logit|, the logit scale.

    python bench/imagenet_parity.py [--images 8] [--backends tensorflow,jax]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bvlc_graph import bgr_images, bvlc_onnx, onnx_logits  # noqa: E402
from convert_fixtures import (differences, images, keras_logits_in, torch_logits,  # noqa: E402
                              torchvision_pth)
from machine import cpu_name  # noqa: E402  (bench/machine.py)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--backends", default="tensorflow,jax")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pth, onnx_file = tmp / "googlenet-standin.pth", tmp / "googlenet-standin.onnx"
        x_tv, x_bvlc = images(args.images, seed=11), bgr_images(args.images, seed=11)
        ref_tv = torch_logits(torchvision_pth(pth), x_tv)
        bvlc_onnx(onnx_file)
        ref_bvlc = onnx_logits(onnx_file, x_bvlc)
        for source, path, x, ref, runtime in (
                ("torchvision", pth, x_tv, ref_tv, "torch (CPU)"),
                ("bvlc", onnx_file, x_bvlc, ref_bvlc, "onnxruntime (CPU)")):
            for backend in args.backends.split(","):
                ours = keras_logits_in(backend, source, path, x.transpose(0, 2, 3, 1), tmp)
                diff, rel = differences(ours, ref)
                same = int((ours.argmax(-1) == ref.argmax(-1)).sum())
                rows.append(f"| {source} | {runtime} | {backend} | {args.images} | {diff:.2e} | {rel:.2e} | "
                            f"{np.abs(ref).max():.3g} | {same}/{args.images} |")
    print(f"CPU: {cpu_name()}; Python {platform.python_version()}\n")
    print("| source | reference runtime | Keras backend | images | max abs Δlogit | max abs Δ / max abs logit "
          "| max abs logit | same top-1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
