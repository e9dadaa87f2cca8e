"""torchvision's ``resnet18`` … ``resnet152`` state dicts → cnn-zoo's ``resnet*`` (layout "torchvision").

The layout as data: each Keras conv of a block, and its BatchNormalization
``<conv>_bn``, takes one torchvision module of ``layer{stage − 1}.{block − 1}``:

    conv1, conv1_bn                              ← conv1, bn1
    conv{s}_block{b}_conv{k}, _bn                ← layer{s−1}.{b−1}.conv{k}, .bn{k}
    conv{s}_block{b}_shortcut, _shortcut_bn      ← layer{s−1}.{b−1}.downsample.0, .downsample.1
    classifier                                   ← fc (transposed)

Kernels go (out, in, h, w) → (h, w, in, out); BN's weight, bias, running_mean,
running_var are Keras' γ, β, moving mean and variance (both ε = 1e-5).
``num_batches_tracked`` (a training counter) is dropped. The table is read
off the model, so one module serves every depth; a file of another depth or
family fails in one line, before anything is assigned.
"""

from __future__ import annotations

import re

from cnn_zoo.convert.assigning import ConversionError, assign, check_keys, conv_kernel, linear
from cnn_zoo.convert.torchvision_layout import BN, read

KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000, "layout": "torchvision"}
WHAT = "a torchvision ResNet state dict"
_BLOCK = re.compile(r"conv(\d)_block(\d+)_(conv\d|shortcut)")


def dropped(name: str) -> bool:
    return name.endswith(".num_batches_tracked")


def torch_module(keras_conv: str) -> tuple[str, str]:
    """(conv module, its BN module) in torchvision's state dict for a Keras conv name."""
    if keras_conv == "conv1":
        return "conv1", "bn1"
    stage, block, part = _BLOCK.fullmatch(keras_conv).groups()
    prefix = f"layer{int(stage) - 1}.{int(block) - 1}"
    if part == "shortcut":
        return f"{prefix}.downsample.0", f"{prefix}.downsample.1"
    return f"{prefix}.{part}", f"{prefix}.bn{part[-1]}"


def convs(model) -> list[str]:
    """The model's convs that have a BN (``<name>_bn``): all but option A's weightless shortcuts."""
    names = {layer.name for layer in model.layers}
    return [name for name in (layer.name for layer in model.layers)
            if (name == "conv1" or _BLOCK.fullmatch(name)) and f"{name}_bn" in names]


def expected_keys(model) -> list[str]:
    keys = ["fc.weight", "fc.bias"]
    for conv in convs(model):
        module, bn = torch_module(conv)
        keys += [f"{module}.weight"] + [f"{bn}.{k}" for k in BN]
    return keys


def arrays(tensors: dict, model) -> dict[str, list]:
    out = {"classifier": linear(tensors["fc.weight"], tensors["fc.bias"])}
    for conv in convs(model):
        module, bn = torch_module(conv)
        out[conv] = [conv_kernel(tensors[f"{module}.weight"])]
        out[f"{conv}_bn"] = [tensors[f"{bn}.{k}"] for k in BN]
    return out


def _check_layout(model, path) -> None:
    """torchvision's bottlenecks stride on their 3×3: a model of the paper's layout has the same
    shapes but other maps, so it is refused rather than filled."""
    names = {layer.name for layer in model.layers}
    if "conv3_block1_conv3" in names and tuple(model.get_layer("conv3_block1_conv2").strides) != (2, 2):
        raise ConversionError(f"{path}: torchvision's ResNets put a bottleneck's stride on its 3×3 conv; "
                              f"{model.name} has the paper's layout: build it with layout='torchvision'")


def convert(path, model) -> None:
    """Fills ``model`` (a cnn-zoo resnet*, torchvision's layout) from the ``.pth`` at ``path``."""
    tensors = read(path)
    _check_layout(model, path)
    check_keys(tensors, expected_keys(model), dropped, f"{WHAT} of {model.name}'s depth", path)
    assign(model, arrays(tensors, model), path)
