"""Keras layers in the textbook's terms: K filters of extent F, stride S, padding P.

The arithmetic (``layers.output_size`` and friends) lives in
:mod:`cnn_zoo.layers.arithmetic`, which imports no Keras; importing this
package imports no Keras either (``zoo explain`` answers in a fraction of a
second). The layer classes are loaded on first access (PEP 562), and loading
a class registers it for ``.keras`` serialization. Code that loads a saved
model calls :func:`register_all` first: the file may name any of them.
"""

import importlib
import sys
import types

from cnn_zoo.layers.arithmetic import (  # noqa: F401
    Arithmetic,
    ReceptiveField,
    ShapeError,
    conv_multiply_adds,
    conv_params,
    conv_weights,
    explain_window,
    output_size,
    receptive_fields,
    valid_kernel_sizes,
    valid_paddings,
    valid_strides,
)

# Public layer names -> their module (each imports Keras).
_LAZY = {
    **dict.fromkeys(("BaseConv", "Conv1D", "Conv2D", "Conv3D"), "conv"),
    **dict.fromkeys(("BaseMaxPool", "MaxPool1D", "MaxPool2D", "MaxPool3D"), "pooling"),
    "AdaptiveAveragePool2D": "adaptive_pooling",
    "Inception": "inception",
    "LocalResponseNormalization": "lrn",
    "TrainableSubsampling": "subsampling",
    **dict.fromkeys(("LENET5_C3_TABLE", "ConnectionTableConv2D"), "connection_table"),
    **dict.fromkeys(("ScaledTanh", "scaled_tanh"), "scaled_tanh"),
    **dict.fromkeys(("EuclideanRBF", "RandomSignCode"), "rbf"),
    "ZeroPadShortcut": "shortcut",
}

__all__ = [
    "Arithmetic", "ReceptiveField", "ShapeError", "conv_multiply_adds", "conv_params", "conv_weights",
    "explain_window", "output_size", "receptive_fields", "valid_kernel_sizes", "valid_paddings",
    "valid_strides", "register_all", *sorted(_LAZY),
]


def register_all() -> None:
    """Imports every layer module, so that Keras can deserialize any of them (load_model)."""
    for module in sorted(set(_LAZY.values())):
        importlib.import_module(f"{__name__}.{module}")


def __getattr__(name):  # PEP 562
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


class _Package(types.ModuleType):
    """The import system sets ``package.scaled_tanh`` to the submodule once it is loaded;
    the public name is the activation function of that module, so the function wins."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


# Code written for the eager package (`from cnn_zoo import layers  # registers the layers`)
# keeps working when Keras is already loaded: registering then costs nothing extra.
if "keras" in sys.modules:
    register_all()
