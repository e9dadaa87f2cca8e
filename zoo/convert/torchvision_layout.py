"""torchvision's ``googlenet`` state dict → cnn-zoo's ``googlenet_bn``.

The layout as data: each Keras conv (and its BatchNormalization ``<conv>_bn``)
takes the tensors of one torchvision ``BasicConv2d``:

    <prefix>.conv.weight (out, in, h, w)  → <conv> kernel (h, w, in, out)
    <prefix>.bn.{weight, bias, running_mean, running_var} → <conv>_bn γ, β, mean, variance

and the classifier takes ``fc.weight`` (transposed) and ``fc.bias``. The
auxiliary heads (``aux1.*``, ``aux2.*``) serve training only and are dropped,
as ``num_batches_tracked`` (a training counter). Everything else must be
there, with the exact shapes: a ResNet state dict fails in one line.

The architectural quirks (ε = 0.001, the 3×3 "5×5" branch, ceil-mode pools,
the 2×2 pool4) are googlenet_bn's own; ``transform_input`` is its option of
the same name, set in ``KWARGS``.
"""

from __future__ import annotations

from cnn_zoo.convert.assigning import ConversionError, assign, check_keys, conv_kernel, need

# Keras conv → torchvision BasicConv2d prefix, outside the inception blocks.
STEM = {"conv1": "conv1", "conv2_reduce": "conv2", "conv2": "conv3"}
# Inception sub-layer → torchvision branch module, inside each block.
BRANCHES = {"1x1": "branch1", "3x3_reduce": "branch2.0", "3x3": "branch2.1",
            "5x5_reduce": "branch3.0", "5x5": "branch3.1", "pool_proj": "branch4.1"}
BLOCKS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")  # Keras inception_3a ↔ torch inception3a
BN = ("weight", "bias", "running_mean", "running_var")  # Keras' γ, β, moving mean, moving variance
ARCH = "googlenet_bn"
KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000, "transform_input": True}
WHAT = "a torchvision GoogLeNet state dict"


def dropped(name: str) -> bool:
    """Tensors an inference model does not take: the auxiliary heads and BN's batch counters."""
    return name.startswith(("aux1.", "aux2.")) or name.endswith(".num_batches_tracked")


def table() -> dict[str, str]:
    """{Keras conv path: torchvision BasicConv2d prefix} for every conv."""
    convs = dict(STEM)
    for block in BLOCKS:
        for sub, branch in BRANCHES.items():
            convs[f"inception_{block}/{sub}"] = f"inception{block}.{branch}"
    return convs


def expected_keys() -> list[str]:
    keys = ["fc.weight", "fc.bias"]
    for prefix in table().values():
        keys += [f"{prefix}.conv.weight"] + [f"{prefix}.bn.{k}" for k in BN]
    return keys


def read(path) -> dict:
    """The state dict of a ``.pth`` file as NumPy arrays, read without unpickling any object."""
    torch = need("torch", "convert", "Reading a torchvision .pth file")
    try:
        # weights_only=True: tensors and plain containers only; a pickle that
        # would build any other object is refused, never executed.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for a bad file
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConversionError(f"{path}: not a PyTorch file torch.load can read safely "
                              f"({type(error).__name__}: {first[:200]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint wrapping the weights
    if not isinstance(state, dict) or not all(hasattr(v, "numpy") for v in state.values()):
        raise ConversionError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def arrays(tensors: dict) -> dict[str, list]:
    """{Keras layer path: [arrays]} from the state dict's tensors."""
    out = {}
    for keras_name, prefix in table().items():
        out[keras_name] = [conv_kernel(tensors[f"{prefix}.conv.weight"])]
        out[f"{keras_name}_bn"] = [tensors[f"{prefix}.bn.{k}"] for k in BN]
    out["classifier"] = [tensors["fc.weight"].T, tensors["fc.bias"]]
    return out


def convert(path, model) -> None:
    """Fills ``model`` (a googlenet_bn with transform_input) from the ``.pth`` at ``path``."""
    tensors = read(path)
    check_keys(tensors, expected_keys(), dropped, WHAT, path)
    assign(model, arrays(tensors), path)
