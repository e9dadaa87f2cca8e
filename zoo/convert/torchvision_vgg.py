"""torchvision's ``vgg11`` … ``vgg19_bn`` state dicts → cnn-zoo's ``vgg*`` (the convnet pattern).

torchvision keeps VGG as two ``nn.Sequential``: ``features`` (per conv: Conv2d,
[BatchNorm2d,] ReLU; per pool: MaxPool2d) and ``classifier`` (Linear, ReLU,
Dropout, Linear, ReLU, Dropout, Linear). The layout walks the Keras model's
convs and pools in order and counts the same modules:

    stage{s}_conv{c}, stage{s}_conv{c}_bn  ← features.{i}, features.{i + 1} (_bn variants)
    fc1 ← classifier.0 (rows reordered: see assigning.dense_after_flatten), fc2 ← classifier.3,
    classifier ← classifier.6

fc1 follows the flatten of the 7×7×512 adaptive pool, which torch flattens
channel-first and Keras channel-last.
"""

from __future__ import annotations

from cnn_zoo.convert.assigning import (ConversionError, assign, check_keys, conv_kernel,
                                    dense_after_flatten, linear)
from cnn_zoo.convert.torchvision_layout import BN, read

KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000}
WHAT = "a torchvision VGG state dict"
CLASSIFIER = {"fc1": "classifier.0", "fc2": "classifier.3", "classifier": "classifier.6"}


def dropped(name: str) -> bool:
    return name.endswith(".num_batches_tracked")


def features(model) -> dict[str, tuple[str, bool]]:
    """{Keras conv: (torchvision features index, has BN)} in the model's order."""
    names = {layer.name for layer in model.layers}
    table, index = {}, 0
    for layer in model.layers:
        if layer.name.startswith("stage") and "_conv" in layer.name and not layer.name.endswith(("_bn", "_relu")):
            bn = f"{layer.name}_bn" in names
            table[layer.name] = (f"features.{index}", bn)
            index += 3 if bn else 2  # Conv2d, [BatchNorm2d,] ReLU
        elif layer.name.startswith("stage") and layer.name.endswith("_pool"):
            index += 1
    return table


def expected_keys(model) -> list[str]:
    keys = [f"{prefix}.{k}" for prefix in CLASSIFIER.values() for k in ("weight", "bias")]
    for prefix, bn in features(model).values():
        keys += [f"{prefix}.weight", f"{prefix}.bias"]
        if bn:
            index = int(prefix.rsplit(".", 1)[1]) + 1
            keys += [f"features.{index}.{k}" for k in BN]
    return keys


def arrays(tensors: dict, model) -> dict[str, list]:
    out = {}
    for conv, (prefix, bn) in features(model).items():
        out[conv] = [conv_kernel(tensors[f"{prefix}.weight"]), tensors[f"{prefix}.bias"]]
        if bn:
            index = int(prefix.rsplit(".", 1)[1]) + 1
            out[f"{conv}_bn"] = [tensors[f"features.{index}.{k}"] for k in BN]
    for keras_name, prefix in CLASSIFIER.items():
        out[keras_name] = linear(tensors[f"{prefix}.weight"], tensors[f"{prefix}.bias"])
    out["fc1"][0] = dense_after_flatten(tensors["classifier.0.weight"], flattened(model))
    return out


def flattened(model) -> tuple:
    """The (H, W, C) volume fc1 reads: the adaptive pool's output."""
    try:
        return tuple(model.get_layer("avgpool").output.shape[1:])
    except ValueError:
        raise ConversionError(f"{model.name} has no adaptive average pool before its FC layers: "
                              "torchvision's VGGs do; build it with adaptive_pool=(7, 7)") from None


def convert(path, model) -> None:
    """Fills ``model`` (a cnn-zoo vgg*) from the ``.pth`` at ``path``."""
    tensors = read(path)
    check_keys(tensors, expected_keys(model), dropped, f"{WHAT} of {model.name}'s configuration", path)
    assign(model, arrays(tensors, model), path)
