"""Publishers' ImageNet weights (torchvision, BVLC via ONNX) converted into the zoo's models.

    import cnn_zoo as zoo
    model = zoo.convert_weights("torchvision", "googlenet-1378be20.pth")   # googlenet_bn
    model = zoo.convert_weights("torchvision", "resnet50-0676ba61.pth", "resnet50")
    model = zoo.convert_weights("bvlc", "googlenet-7.onnx")                # googlenet

One module per publisher layout, each a name-mapping table (``*_layout.py``, and
``torchvision_resnet.py``, ``torchvision_vgg.py``, ``torchvision_alexnet.py``, which each family
names in its ``converters``);
``pulling`` downloads, converts and caches a manifest tag that names a
publisher's file (``zoo pull googlenet_bn.imagenet``); ``local`` saves a
conversion as a local tag (``zoo convert``). torch and onnx are optional:
``pip install 'cnn-zoo[convert]'``.
"""

from __future__ import annotations

import importlib

from cnn_zoo import registry
from cnn_zoo.convert.assigning import ConversionError, MissingExtraError  # noqa: F401

# source name → (layout module, what it reads)
SOURCES = {
    "torchvision": ("cnn_zoo.convert.torchvision_layout",
                    "a torchvision state dict (.pth): googlenet, or with --arch resnet*, vgg*, alexnet"),
    "bvlc": ("cnn_zoo.convert.bvlc_layout", "the ONNX model zoo's BVLC GoogLeNet (.onnx)"),
}


def layout(source: str):
    """The layout module of ``source`` ('torchvision' or 'bvlc')."""
    if source not in SOURCES:
        raise ConversionError(f"unknown weights source {source!r}: use one of "
                              f"{', '.join(map(repr, SOURCES))}. Received: source={source!r}")
    return importlib.import_module(SOURCES[source][0])


def family_layout(source: str, arch: str | None = None):
    """``(arch, layout module)``: the model ``source``'s weights go into (default: the source's),
    and the layout its family names for them; another family is a ConversionError."""
    default = layout(source).ARCH
    arch = arch or default
    module = registry.get_family(arch).converter(source)  # the family says which sources it takes
    if module is None:
        raise ConversionError(f"{source} weights have the layout of {default!r}, not {arch!r}: "
                              f"use --arch {default}. Received: arch={arch!r}")
    return arch, module


def convert_weights(source: str, path, arch: str | None = None, **kwargs):
    """The Keras model ``arch`` with the weights of the publisher's file at ``path``.

    ``arch`` defaults to the source's (torchvision → googlenet_bn, bvlc →
    googlenet), and its family's ``converters`` give the layout; the builder gets the layout's
    arguments (``layout.KWARGS``), updated with ``kwargs``: a tag's recorded builder arguments
    (``pull`` passes them), or ones that do not change the weights' shapes (``name``,
    ``classifier_activation``).
    """
    arch, module = family_layout(source, arch)
    model = registry.get_model(arch, **{**module.KWARGS, **kwargs})
    module.convert(path, model)
    return model
