"""A stand-in for the ONNX model zoo's googlenet-7.onnx: its graph and tensor names, random weights.

The structure is bvlc_googlenet's deploy.prototxt as Caffe2 exported it to
ONNX (opset 7): input ``data_0`` (N, 3, 224, 224), Conv + Relu per Caffe
conv with initializers ``<caffe layer>_w_0`` / ``_b_0``, max-pools 3×3/2
with end padding 2 (Caffe's ceil rounding; MaxPool has no ceil_mode before
opset 10), LRN(5, 1e-4, 0.75, 1), inception blocks concatenated as 1×1, 3×3,
5×5, pool proj, a 7×7 average pool, Dropout, Gemm ``loss3/classifier``
(transB=1) and Softmax ``prob_1``. The test also reads the Gemm's output,
the logits.
"""

from __future__ import annotations

import numpy as np

INCEPTION = {  # Table 1's widths: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
MEAN_BGR = (104.0, 117.0, 123.0)
LOGITS = "loss3/classifier_1"
# Operator counts of the published googlenet ONNX file, as a course that inspected it with
# sclblonnx lists them; its Gemm: inputs OC2_DUMMY_0, loss3/classifier_w_0 (1000, 1024),
# loss3/classifier_b_0, output loss3/classifier_1.
PUBLISHED_OPS = {"AveragePool": 1, "Reshape": 1, "Conv": 57, "Concat": 9, "Dropout": 1, "MaxPool": 13,
                 "LRN": 2, "Softmax": 1, "Gemm": 1, "Relu": 57}


class _Graph:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def node(self, op, inputs, output, **attrs):
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, x, name, c_in, c_out, k, pad=0, stride=1):
        from onnx import numpy_helper

        w = (self.rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2 / (c_in * k * k))).astype("float32")
        b = (self.rng.standard_normal(c_out) * 0.1).astype("float32")
        self.inits += [numpy_helper.from_array(w, f"{name}_w_0"), numpy_helper.from_array(b, f"{name}_b_0")]
        y = self.node("Conv", [x, f"{name}_w_0", f"{name}_b_0"], f"{name}_1", kernel_shape=[k, k],
                      pads=[pad] * 4, strides=[stride, stride])
        return self.node("Relu", [y], f"{name}_2")

    def max_pool(self, x, name, k=3, s=2, pads=(0, 0, 2, 2)):
        return self.node("MaxPool", [x], f"{name}_1", kernel_shape=[k, k], strides=[s, s], pads=list(pads))

    def lrn(self, x, name):
        return self.node("LRN", [x], f"{name}_1", size=5, alpha=1e-4, beta=0.75, bias=1.0)

    def inception(self, x, block, c_in):
        n1, r3, n3, r5, n5, pp = INCEPTION[block]
        p = f"inception_{block}"
        b1 = self.conv(x, f"{p}/1x1", c_in, n1, 1)
        b2 = self.conv(self.conv(x, f"{p}/3x3_reduce", c_in, r3, 1), f"{p}/3x3", r3, n3, 3, pad=1)
        b3 = self.conv(self.conv(x, f"{p}/5x5_reduce", c_in, r5, 1), f"{p}/5x5", r5, n5, 5, pad=2)
        pool = self.max_pool(x, f"{p}/pool", s=1, pads=(1, 1, 1, 1))
        b4 = self.conv(pool, f"{p}/pool_proj", c_in, pp, 1)
        return self.node("Concat", [b1, b2, b3, b4], f"{p}/output_1", axis=1), n1 + n3 + n5 + pp


def bvlc_onnx(path, seed: int = 0):
    """Writes the stand-in googlenet ONNX file to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = _Graph(seed)
    x = g.conv("data_0", "conv1/7x7_s2", 3, 64, 7, pad=3, stride=2)
    x = g.lrn(g.max_pool(x, "pool1/3x3_s2"), "pool1/norm1")
    x = g.conv(x, "conv2/3x3_reduce", 64, 64, 1)
    x = g.lrn(g.conv(x, "conv2/3x3", 64, 192, 3, pad=1), "conv2/norm2")
    x, c = g.max_pool(x, "pool2/3x3_s2"), 192
    for block in INCEPTION:
        x, c = g.inception(x, block, c)
        if block in ("3b", "4e"):
            x = g.max_pool(x, f"pool{3 if block == '3b' else 4}/3x3_s2")
    x = g.node("AveragePool", [x], "pool5/7x7_s1_1", kernel_shape=[7, 7], strides=[1, 1])
    x = g.node("Dropout", [x], "pool5/drop_7x7_s1_1", ratio=0.4)
    # The published Gemm reads 'OC2_DUMMY_0' (the Reshape's output); the shape constant's name is a guess.
    g.inits.append(numpy_helper.from_array(np.array([1, 1024], np.int64), "OC2_DUMMY_1"))
    x = g.node("Reshape", [x, "OC2_DUMMY_1"], "OC2_DUMMY_0")
    w = (g.rng.standard_normal((1000, 1024)) / 32).astype("float32")
    b = (g.rng.standard_normal(1000) * 0.1).astype("float32")
    g.inits += [numpy_helper.from_array(w, "loss3/classifier_w_0"),
                numpy_helper.from_array(b, "loss3/classifier_b_0")]
    x = g.node("Gemm", [x, "loss3/classifier_w_0", "loss3/classifier_b_0"], LOGITS, transB=1)
    g.node("Softmax", [x], "prob_1")
    # IR version 3 (as the opset-7 export): every initializer is also a graph input.
    inputs = [helper.make_tensor_value_info("data_0", TensorProto.FLOAT, [1, 3, 224, 224])] + [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in g.inits]
    graph = helper.make_graph(
        g.nodes, "googlenet", inputs,
        [helper.make_tensor_value_info("prob_1", TensorProto.FLOAT, [1, 1000]),
         helper.make_tensor_value_info(LOGITS, TensorProto.FLOAT, [1, 1000])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)], ir_version=3)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def onnx_logits(path, x_nchw: np.ndarray) -> np.ndarray:
    """The logits (Gemm output) of the ONNX file under onnxruntime, one image at a time (batch 1)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run([LOGITS], {"data_0": x[None]})[0] for x in x_nchw])


def bgr_images(n: int = 3, seed: int = 0) -> np.ndarray:
    """Random images as the BVLC model takes them: BGR, NCHW, mean subtracted."""
    pixels = np.random.default_rng(seed).uniform(0, 255, (n, 3, 224, 224))
    return (pixels - np.asarray(MEAN_BGR)[None, :, None, None]).astype("float32")
