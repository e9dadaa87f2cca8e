"""BVLC GoogLeNet (ONNX model zoo) → googlenet: a graph of the published structure and names, run
by onnxruntime, converted, equal logits. Needs the test extra (onnx, onnxruntime)."""

from __future__ import annotations

import sys

import numpy as np
import onnx  # noqa: F401 - the test extra; missing is an error here, not a skip
import pytest

import cnn_zoo as zoo
from bvlc_graph import PUBLISHED_OPS, bgr_images, bvlc_onnx, onnx_logits
from cnn_zoo.convert import ConversionError, MissingExtraError, bvlc_layout
from convert_fixtures import differences, keras_logits, keras_logits_in

TOLERANCE = 1e-4  # max |Δlogit| / max |logit|


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(path of the stand-in .onnx, BGR mean-subtracted inputs NCHW, onnxruntime logits)."""
    path = tmp_path_factory.mktemp("bvlc") / "googlenet-standin.onnx"
    bvlc_onnx(path)
    x = bgr_images()
    return path, x, onnx_logits(path, x)


def test_the_stand_in_has_the_published_names(published):
    model = onnx.load(str(published[0]))
    names = {t.name for t in model.graph.initializer}
    assert {"conv1/7x7_s2_w_0", "inception_3a/1x1_w_0", "inception_5b/pool_proj_b_0",
            "loss3/classifier_w_0"} <= names
    assert set(bvlc_layout.expected_keys()) <= names
    assert model.graph.input[0].name == "data_0" and model.graph.output[0].name == "prob_1"
    ops = [node.op_type for node in model.graph.node]
    assert {op: ops.count(op) for op in set(ops)} == PUBLISHED_OPS
    gemm = next(node for node in model.graph.node if node.op_type == "Gemm")
    assert list(gemm.input) == ["OC2_DUMMY_0", "loss3/classifier_w_0", "loss3/classifier_b_0"]


def test_logits_equal_onnxruntime_on_tensorflow(published):
    path, x, ref = published
    model = zoo.convert_weights("bvlc", path)
    assert model.name == "googlenet" and model.count_params() == 6_998_552
    ours = keras_logits(model, x.transpose(0, 2, 3, 1))
    _, rel = differences(ours, ref)
    assert rel <= TOLERANCE, rel
    assert np.abs(ref[0] - ref[1]).max() > 100 * TOLERANCE * np.abs(ref).max()  # not constant


def test_logits_equal_onnxruntime_on_jax(published, tmp_path):
    path, x, ref = published
    ours = keras_logits_in("jax", "bvlc", path, x.transpose(0, 2, 3, 1), tmp_path)
    _, rel = differences(ours, ref)
    assert rel <= TOLERANCE, rel


def test_another_onnx_model_is_refused_in_one_line(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "resnetv17_conv0_weight")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["data", "resnetv17_conv0_weight"], ["y"], kernel_shape=[3, 3])],
        "resnet", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])], [w])
    onnx.save(helper.make_model(graph), str(tmp_path / "resnet.onnx"))
    with pytest.raises(ConversionError, match="not the ONNX model zoo's BVLC GoogLeNet: it lacks 116"):
        zoo.convert_weights("bvlc", tmp_path / "resnet.onnx")


def test_a_truncated_file_is_refused(published, tmp_path):
    data = published[0].read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ConversionError, match="cut.onnx: not"):
        zoo.convert_weights("bvlc", tmp_path / "cut.onnx")


def test_wrong_arch_and_missing_onnx_are_one_line(published, monkeypatch):
    with pytest.raises(ConversionError, match="--arch googlenet"):
        zoo.convert_weights("bvlc", published[0], arch="googlenet_bn")
    with pytest.raises(ConversionError, match="unknown weights source 'caffe'"):
        zoo.convert_weights("caffe", published[0])
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.raises(MissingExtraError, match=r"cnn-zoo\[convert\]"):
        bvlc_layout.read(published[0])
