"""torchvision's ``alexnet`` state dict → cnn-zoo's ``alexnet``.

torchvision's ``features`` are Conv2d, ReLU, MaxPool2d, Conv2d, ReLU, MaxPool2d, then three
Conv2d, ReLU and a MaxPool2d; its ``classifier`` Dropout, Linear, ReLU, Dropout, Linear,
ReLU, Linear:

    conv1 ← features.0, conv2 ← features.3, conv3 ← features.6, conv4 ← features.8,
    conv5 ← features.10, fc6 ← classifier.1 (after the 6×6×256 flatten, rows reordered:
    assigning.dense_after_flatten), fc7 ← classifier.4, classifier ← classifier.6
"""

from __future__ import annotations

from cnn_zoo.convert.assigning import assign, check_keys, conv_kernel, dense_after_flatten, linear
from cnn_zoo.convert.torchvision_layout import read

KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000}
WHAT = "a torchvision AlexNet state dict"
CONVS = {"conv1": "features.0", "conv2": "features.3", "conv3": "features.6", "conv4": "features.8",
         "conv5": "features.10"}
DENSE = {"fc6": "classifier.1", "fc7": "classifier.4", "classifier": "classifier.6"}


def expected_keys() -> list[str]:
    return [f"{prefix}.{k}" for prefix in (*CONVS.values(), *DENSE.values()) for k in ("weight", "bias")]


def arrays(tensors: dict, model) -> dict[str, list]:
    out = {name: [conv_kernel(tensors[f"{p}.weight"]), tensors[f"{p}.bias"]] for name, p in CONVS.items()}
    out.update({name: linear(tensors[f"{p}.weight"], tensors[f"{p}.bias"]) for name, p in DENSE.items()})
    out["fc6"][0] = dense_after_flatten(tensors["classifier.1.weight"],
                                        tuple(model.get_layer("avgpool").output.shape[1:]))
    return out


def convert(path, model) -> None:
    """Fills ``model`` (a cnn-zoo alexnet) from the ``.pth`` at ``path``."""
    tensors = read(path)
    check_keys(tensors, expected_keys(), lambda name: False, WHAT, path)
    assign(model, arrays(tensors, model), path)
