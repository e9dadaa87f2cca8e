"""What the ImageNet tags share, as their publishers state it: the dataset, the class names,
torchvision's files and transforms, and the recipe that evaluates a converted tag.

A family's ``<module>_weights.py`` builds its ImageNet :class:`~cnn_zoo.models.pretrained.Tag`
from these, so one torchvision tag is one block of its own facts (file, enum name, figures):

    Tag("resnet50.imagenet", kwargs={"input_shape": [224, 224, 3], "num_classes": 1000},
        class_names=IMAGENET_CLASSES, dataset=IMAGENET,
        source=torchvision_file("resnet50-0676ba61.pth", weights="...", page=...),
        metrics=torchvision_metrics("ResNet50_Weights.IMAGENET1K_V1", 76.130, 92.862, page=...),
        preprocessing=torchvision_preprocessing(resize=256, crop=224),
        recipe=converted_recipe("resnet50.imagenet", {...}, preprocessing), created=..., keras_version=...)

Plain data: the standard library only.
"""

from __future__ import annotations

from cnn_zoo.models.pretrained import ClassNames

IMAGENET = {"source": "tfds:imagenet2012", "name": "ImageNet-1k (ILSVRC2012)",
            "license": "ImageNet terms of access: non-commercial research and education only",
            "attribution": "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015",
            "url": "https://image-net.org/"}
IMAGENET_CLASSES = ClassNames(
    source="torchvision 0.29.1: torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.meta['categories'] "
           "(ImageNet-1k, ILSVRC2012 class index order), shipped as saved_models/imagenet_classes.json",
    file="imagenet_classes.json")
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
TORCHVISION_MODELS = "https://download.pytorch.org/models"
TORCHVISION_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet, whose terms apply"


def torchvision_file(file: str, *, weights: str, page: str) -> dict:
    """The source block of a file on download.pytorch.org: ``<name>-<sha256 prefix>.pth``.

    torchvision publishes no full sha256 or size: the file is checked by the
    hash prefix in its name, as its ``load_state_dict_from_url(check_hash=True)`` does.
    """
    prefix = file.rsplit("-", 1)[-1].split(".")[0]
    return {"format": "torchvision", "publisher": "torchvision (PyTorch)", "weights": weights,
            "url": f"{TORCHVISION_MODELS}/{file}", "file": file, "sha256": None, "size": None,
            "sha256_prefix": prefix,
            "check": f"sha256 must start with {prefix}, the prefix in the file name, as torchvision's "
                     "load_state_dict_from_url(check_hash=True) checks it; torchvision publishes no full "
                     "sha256 or size",
            "license": TORCHVISION_LICENSE, "page": page}


def torchvision_metrics(weights: str, acc1: float, acc5: float, *, page: str) -> dict:
    """ImageNet validation figures as torchvision publishes them: ``<Enum>.meta['_metrics']``, in %."""
    return {"split": "validation", "examples": 50000, "accuracy": round(acc1 / 100, 6),
            "top5_accuracy": round(acc5 / 100, 6), "measured_by": "torchvision (the publisher), not cnn-zoo",
            "source": f"{weights}.meta['_metrics'] (acc@1 {acc1:.3f}, acc@5 {acc5:.3f}), {page}"}


def torchvision_preprocessing(*, resize: int = 256, crop: int = 224, **publisher) -> dict:
    """torchvision's ImageNet eval transform: Resize(resize) of the shorter side, CenterCrop(crop),
    ToTensor, Normalize(mean, std); ``publisher`` adds to what the publisher block says."""
    return {
        "steps": [{"resize_shorter": {"size": resize, "method": "bilinear", "antialias": True}},
                  {"center_crop": {"size": [crop, crop]}}, {"rescale": {"scale": 1 / 255, "offset": 0.0}},
                  {"normalize": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}}],
        "raw_shape": [None, None, 3], "input_shape": [crop, crop, 3],
        "publisher": {"resize": resize, "resize_mode": "shorter side, bilinear", "center_crop": crop,
                      "channel_order": "RGB", "scale": "0..1", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                      **publisher},
        "note": f"as torchvision's Resize({resize}), CenterCrop({crop}): images of any size, the shorter side "
                f"resized to {resize} keeping the aspect ratio (antialiased, as PIL), then the centre {crop}x{crop}",
    }


def converted_recipe(tag: str, kwargs: dict, preprocessing: dict) -> dict:
    """The recipe of a converted ImageNet tag (never trained here): its data and preprocessing, for
    ``zoo eval`` and ``zoo finetune``; the manifest holds it resolved with the recipe defaults."""
    arch = tag.split(".", 1)[0]
    raw_shape = preprocessing["raw_shape"]
    return {
        "name": tag.replace(".", "-"), "version": 1,
        "description": f"{arch} with a publisher's ImageNet weights, converted by cnn-zoo (not trained here)",
        # image_size: files read at one size (Caffe's 256x256); streamed at any size where the steps resize
        "dataset": {"source": IMAGENET["source"], "color_mode": "rgb",
                    **({"image_size": raw_shape[:2]} if all(raw_shape[:2]) else {"stream": True})},
        "preprocessing": preprocessing["steps"],
        "model": {"name": arch, "kwargs": {k: v for k, v in kwargs.items() if k not in ("input_shape", "num_classes")}},
        "epochs": 1,
    }
