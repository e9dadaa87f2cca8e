"""The manifest entries of the ImageNet GoogLeNets: publisher, file, check, licence, metrics, preprocessing.

Data, one block per source, with the publishers' own statements and where
they are written. ``entry(source, tag)`` turns a block into a
:class:`~cnn_zoo.hub.manifest.WeightsInfo` (``googlenet_bn.imagenet`` and
``googlenet.imagenet`` in saved_models/manifest.json, or a ``zoo convert``
tag). Regenerate the shipped entries with
``python -m cnn_zoo.convert.imagenet saved_models/manifest.json``.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.resources
import json
import sys

CLASS_NAMES_FILE = "imagenet_classes.json"  # in cnn_zoo.saved_models: torchvision's category list
DATASET = {"source": "tfds:imagenet2012", "name": "ImageNet-1k (ILSVRC2012)",
           "license": "ImageNet terms of access: non-commercial research and education only",
           "attribution": "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015",
           "url": "https://image-net.org/"}
TORCHVISION_PAGE = "https://pytorch.org/vision/stable/models/generated/torchvision.models.googlenet.html"
ONNX_FOLDER = "validated/vision/classification/inception_and_googlenet/googlenet"
ONNX_COMMIT = "4c46cd00fbdb7cd30b6c1c17ab54f2e1f4f7b177"  # onnx/models, where the LFS pointer was read

PUBLISHED = {
    "torchvision": {
        "source": {
            "format": "torchvision", "publisher": "torchvision (PyTorch)",
            "weights": "torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1 ('ported from the original "
                       "paper': TensorFlow's Inception v1, hence transform_input)",
            "url": "https://download.pytorch.org/models/googlenet-1378be20.pth",
            "file": "googlenet-1378be20.pth", "sha256": None, "size": None, "sha256_prefix": "1378be20",
            "check": "sha256 must start with 1378be20, the prefix in the file name, as torchvision's "
                     "load_state_dict_from_url(check_hash=True) checks it; torchvision publishes no full "
                     "sha256 or size",
            "license": "BSD-3-Clause (torchvision); trained on ImageNet, whose terms apply",
            "page": TORCHVISION_PAGE,
        },
        "metrics": {"split": "validation", "examples": 50000, "accuracy": 0.69778, "top5_accuracy": 0.8953,
                    "measured_by": "torchvision (the publisher), not cnn-zoo",
                    "source": "GoogLeNet_Weights.IMAGENET1K_V1.meta['_metrics'] (acc@1 69.778, acc@5 "
                              f"89.530), {TORCHVISION_PAGE}"},
        "preprocessing": {
            # Resize(256) (the shorter side, PIL's antialiased bilinear), CenterCrop(224), ToTensor, Normalize
            "steps": [{"resize_shorter": {"size": 256, "method": "bilinear", "antialias": True}},
                      {"center_crop": {"size": [224, 224]}}, {"rescale": {"scale": 1 / 255, "offset": 0.0}},
                      {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}],
            "raw_shape": [None, None, 3], "input_shape": [224, 224, 3],
            "publisher": {"resize": 256, "resize_mode": "shorter side, bilinear", "center_crop": 224,
                          "channel_order": "RGB", "scale": "0..1", "mean": [0.485, 0.456, 0.406],
                          "std": [0.229, 0.224, 0.225],
                          "transform_input": "inside the model (googlenet_bn(transform_input=True))"},
            "note": "as torchvision's Resize(256), CenterCrop(224): images of any size, the shorter side "
                    "resized to 256 keeping the aspect ratio (antialiased, as PIL), then the centre 224x224",
        },
    },
    "bvlc": {
        "source": {
            "format": "bvlc", "publisher": "BVLC (Caffe bvlc_googlenet), via the ONNX model zoo",
            "weights": "Caffe BVLC GoogLeNet ==> Caffe2 GoogLeNet ==> ONNX GoogLeNet (opset 7)",
            "url": f"https://github.com/onnx/models/raw/{ONNX_COMMIT}/{ONNX_FOLDER}/model/googlenet-7.onnx",
            "file": "googlenet-7.onnx", "size": 28020232,
            "sha256": "5725ccfd90845735ce5897faf7843c3f9b13acda3c4f3bff82cb21c9337c9de8",
            "check": f"full sha256 and size, from the Git LFS pointer of {ONNX_FOLDER}/model/"
                     f"googlenet-7.onnx in onnx/models at {ONNX_COMMIT}",
            "license": "BVLC: 'released for unrestricted use' (models/bvlc_googlenet/readme.md); "
                       "onnx/models: BSD-3-Clause; trained on ImageNet, whose terms apply",
            "page": f"https://github.com/onnx/models/tree/main/{ONNX_FOLDER}",
        },
        "metrics": {"split": "validation", "examples": 50000, "accuracy": 0.687, "top5_accuracy": 0.889,
                    "measured_by": "BVLC (the publisher), centre crop only, not cnn-zoo",
                    "source": "bvlc_googlenet readme, quoted in the ONNX model zoo's googlenet README: "
                              "'top-1 accuracy 68.7% (31.3% error) and a top-5 accuracy 88.9% (11.1% error) "
                              "on the validation set, using just the center crop'"},
        "preprocessing": {
            "steps": [{"center_crop": {"size": [224, 224]}}, {"channel_order": {"order": "bgr"}},
                      {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}],
            "raw_shape": [256, 256, 3], "input_shape": [224, 224, 3],
            "publisher": {"resize": [256, 256], "resize_mode": "whole image (Caffe's ImageNet LMDB)",
                          "center_crop": 224, "channel_order": "BGR", "scale": "0..255",
                          "mean": {"B": 104, "G": 117, "R": 123}},
            "note": "BVLC's centre-crop figures were measured as Caffe prepares ImageNet: every image resized "
                    "to 256x256 whole (BVLC/caffe examples/imagenet/readme.md: convert -resize 256x256\\!, the "
                    "aspect ratio not kept), then the centre 224x224; kept so (the ONNX zoo's README sample "
                    "instead resizes to 224x224 whole, without a crop)",
        },
    },
}


def class_names() -> list[str]:
    """The 1,000 ImageNet class names shipped with the package, in class-index order."""
    text = importlib.resources.files("cnn_zoo.saved_models").joinpath(CLASS_NAMES_FILE).read_text("utf-8")
    return list(json.loads(text)["class_names"])


def _recipe(arch: str, kwargs: dict, steps: list, raw_shape: list) -> dict:
    from cnn_zoo.recipe import Recipe

    model_kwargs = {k: v for k, v in kwargs.items() if k not in ("input_shape", "num_classes")}
    config = Recipe.from_dict({
        "name": f"{arch}-imagenet", "version": 1,
        "description": f"{arch} with a publisher's ImageNet weights, converted by cnn-zoo (not trained here)",
        # image_size: files read at one size (Caffe's 256x256); streamed at any size where the steps resize
        "dataset": {"source": DATASET["source"], "color_mode": "rgb",
                    **({"image_size": raw_shape[:2]} if all(raw_shape[:2]) else {"stream": True})},
        "preprocessing": steps, "model": {"name": arch, "kwargs": model_kwargs}, "epochs": 1,
    }, source=f"{arch}.imagenet").to_dict()
    return {"name": config["name"], "config": config}


def entry(source: str, tag: str, *, sha256=None, size=None, file_source=None):
    """The WeightsInfo of ``tag``: weights converted from ``source``'s file.

    ``sha256``/``size``: the converted file's (None until converted);
    ``file_source``: replaces the publisher's source block (``zoo convert`` of a local file).
    """
    import keras

    from cnn_zoo.convert import layout
    from cnn_zoo.hub.manifest import WeightsInfo

    block, module = PUBLISHED[source], layout(source)
    return WeightsInfo(
        tag=tag, arch=module.ARCH, file=f"{tag}.weights.h5", sha256=sha256, size=size,
        kwargs=dict(module.KWARGS), preprocessing=json.loads(json.dumps(block["preprocessing"])),
        class_names=tuple(class_names()), metrics=dict(block["metrics"]),
        recipe=_recipe(module.ARCH, module.KWARGS, block["preprocessing"]["steps"],
                       block["preprocessing"]["raw_shape"]), seed=0,
        dataset=dict(DATASET), created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        keras_version=keras.__version__, backend="", source=dict(file_source or block["source"]))


def main(path: str) -> None:
    """Writes (or rewrites) the two shipped ImageNet entries into the manifest at ``path``."""
    from pathlib import Path

    from cnn_zoo.hub.manifest import read_manifest, write_manifest

    entries = read_manifest(Path(path))
    for source, tag in (("torchvision", "googlenet_bn.imagenet"), ("bvlc", "googlenet.imagenet")):
        new = entry(source, tag)
        old = entries.get(tag)
        if old is not None:  # keep the date when nothing else changed
            new = dataclasses.replace(new, created=old.created, keras_version=old.keras_version)
        entries[tag] = new
    write_manifest(Path(path), entries)


if __name__ == "__main__":
    main(sys.argv[1])
