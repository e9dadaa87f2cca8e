"""BVLC GoogLeNet from the ONNX model zoo → cnn-zoo's paper-faithful ``googlenet``.

The ONNX file (onnx/models, validated/vision/classification/
inception_and_googlenet/googlenet, "Caffe BVLC GoogLeNet ==> Caffe2 GoogLeNet
==> ONNX GoogLeNet") keeps the Caffe layer names of ``bvlc_googlenet/
deploy.prototxt`` and adds Caffe2's suffixes: the weights of Caffe layer
``inception_3a/1x1`` are the initializers ``inception_3a/1x1_w_0`` (out, in, h,
w) and ``inception_3a/1x1_b_0``; the input is ``data_0`` (BGR, mean
104/117/123 subtracted: preprocessing) and the output ``prob_1``. The Keras
model uses the same names (``inception_3a`` block, ``1x1`` sub-layer), so the
table is nearly the identity; the stem and the classifier are renamed.

The file is read with ``onnx`` (a protobuf: data, nothing executed),
initializers by name. LRN, true 5×5 and the ceil-mode pools are googlenet's own.
"""

from __future__ import annotations

from cnn_zoo.convert.assigning import ConversionError, assign, check_keys, conv_kernel, need

# Keras layer → Caffe layer, outside the inception blocks.
STEM = {"conv1": "conv1/7x7_s2", "conv2_reduce": "conv2/3x3_reduce", "conv2": "conv2/3x3"}
SUBLAYERS = ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")  # same names in both
BLOCKS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
CLASSIFIER = "loss3/classifier"  # an ONNX Gemm; Caffe's InnerProduct stores (out, in)
WEIGHT, BIAS = "_w_0", "_b_0"  # Caffe2's blob suffixes, kept by its ONNX export
ARCH = "googlenet"
KWARGS = {"input_shape": [224, 224, 3], "num_classes": 1000}
WHAT = "the ONNX model zoo's BVLC GoogLeNet"


def table() -> dict[str, str]:
    """{Keras layer path: Caffe layer name} for every layer with weights."""
    names = dict(STEM)
    for block in BLOCKS:
        for sub in SUBLAYERS:
            names[f"inception_{block}/{sub}"] = f"inception_{block}/{sub}"
    names["classifier"] = CLASSIFIER
    return names


def expected_keys() -> list[str]:
    return [caffe + suffix for caffe in table().values() for suffix in (WEIGHT, BIAS)]


def dropped(name: str) -> bool:
    """Initializers that are not a layer's weights (Caffe2 adds shape constants for Reshape)."""
    return not name.endswith((WEIGHT, BIAS))


def read(path) -> tuple[dict, bool]:
    """({initializer name: array}, whether the classifier's Gemm has transB=1)."""
    onnx = need("onnx", "convert", "Reading an ONNX file")
    from onnx import numpy_helper  # the optional extra, once need() found it

    try:
        model = onnx.load(str(path))
    except Exception as error:  # noqa: BLE001 - protobuf raises several types for a bad file
        raise ConversionError(f"{path}: not an ONNX model onnx can read "
                              f"({type(error).__name__}: {str(error)[:200]})") from None
    tensors = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    trans_b = True  # Caffe's InnerProduct stores (out, in): its Gemm transposes B
    for node in model.graph.node:
        if node.op_type == "Gemm" and len(node.input) > 1 and node.input[1] == CLASSIFIER + WEIGHT:
            trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
    return tensors, trans_b


def arrays(tensors: dict, trans_b: bool) -> dict[str, list]:
    """{Keras layer path: [arrays]} from the initializers."""
    out = {}
    for keras_name, caffe in table().items():
        weight, bias = tensors[caffe + WEIGHT], tensors[caffe + BIAS]
        if keras_name == "classifier":
            out[keras_name] = [weight.T if trans_b else weight, bias]
        else:
            out[keras_name] = [conv_kernel(weight), bias]
    return out


def convert(path, model) -> None:
    """Fills ``model`` (a googlenet) from the ONNX file at ``path``."""
    tensors, trans_b = read(path)
    check_keys(tensors, expected_keys(), dropped, WHAT, path)
    assign(model, arrays(tensors, trans_b), path)
