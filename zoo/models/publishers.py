"""What the ImageNet tags share, as their publishers state it: the dataset, the class names,
torchvision's files and transforms, and the recipe that evaluates a converted tag.

A family's ``<module>_weights.py`` builds its ImageNet :class:`~cnn_zoo.models.pretrained.Tag`
from these, so one torchvision tag is one call with its own facts (enum, file, figures), each
as the installed torchvision's ``Weights`` enum states it (tests/test_torchvision_tags.py
compares them):

    torchvision_tag("resnet50.imagenet_v2", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth",
                    acc=(80.858, 95.434), params=25_557_032, gflops=4.089, file_mb=97.79, resize=232,
                    recipe="https://github.com/pytorch/vision/issues/3995#...", created=..., keras_version=...)

A tag of another publisher (BVLC's Caffe GoogLeNet) writes its :class:`Tag` whole from the
shared pieces (``IMAGENET``, ``IMAGENET_CLASSES``, ``converted_recipe``).

Plain data: the standard library only.
"""

from __future__ import annotations

from cnn_zoo.models.pretrained import ClassNames, Tag

IMAGENET = {"source": "tfds:imagenet2012", "name": "ImageNet-1k (ILSVRC2012)",
            "license": "ImageNet terms of access: non-commercial research and education only",
            "attribution": "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015",
            "url": "https://image-net.org/"}
IMAGENET_CLASSES = ClassNames(
    source="torchvision 0.29.1: torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.meta['categories'] "
           "(ImageNet-1k, ILSVRC2012 class index order; every torchvision ImageNet enum of cnn-zoo's tags "
           "has the same list), shipped as saved_models/imagenet_classes.json",
    file="imagenet_classes.json")
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
TORCHVISION_MODELS = "https://download.pytorch.org/models"
TORCHVISION_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet, whose terms apply"
TORCHVISION_PAGE = "https://pytorch.org/vision/stable/models/generated/torchvision.models.{arch}.html"


def torchvision_tag(tag: str, weights: str, file: str, *, acc: tuple[float, float], params: int, gflops: float,
                    file_mb: float, recipe: str, docs: str, resize: int = 256, crop: int = 224,
                    kwargs=None, page: str | None = None, created: str, keras_version: str, **publisher) -> Tag:
    """The tag converted from ``torchvision.models.<weights>`` (``"ResNet50_Weights.IMAGENET1K_V2"``).

    From the enum: ``file`` (``.url``'s name, whose hash prefix is the check), ``acc`` (acc@1,
    acc@5 of ``.meta['_metrics']``), ``params``, ``gflops``, ``file_mb`` and ``recipe``
    (``.meta['num_params']``, ``['_ops']``, ``['_file_size']``, ``['recipe']``), ``docs``
    (``.meta['_docs']``, shortened), ``resize`` and ``crop`` (``.transforms()``; its mean and
    std are ImageNet's). The figures that are not accuracies go in ``metrics['publisher']``
    (kept out of ``source``, whose change would convert a cached tag again). ``kwargs`` adds
    builder arguments; ``publisher`` adds to the preprocessing's publisher block.
    """
    page = page or TORCHVISION_PAGE.format(arch=tag.split(".", 1)[0])
    kwargs = {"input_shape": [crop, crop, 3], "num_classes": 1000, **(kwargs or {})}
    preprocessing = torchvision_preprocessing(resize=resize, crop=crop, **publisher)
    figures = {"num_params": params, "gflops": gflops, "file_size_mb": file_mb, "training_recipe": recipe,
                 "source": f"{weights}.meta['num_params'], ['_ops'], ['_file_size'], ['recipe']"}
    return Tag(tag, kwargs=kwargs, class_names=IMAGENET_CLASSES, dataset=IMAGENET,
               source=torchvision_file(file, weights=f"torchvision.models.{weights} ({docs})", page=page),
               metrics={**torchvision_metrics(weights, *acc, page=page), "publisher": figures},
               preprocessing=preprocessing, recipe=converted_recipe(tag, kwargs, preprocessing), created=created, keras_version=keras_version)


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
