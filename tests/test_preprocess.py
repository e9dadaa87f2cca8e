"""Preprocessing steps: numerics against hand computations and TensorFlow."""

import json

import numpy as np
import pytest

from cnn_zoo import preprocess as P

LENET = [{"pad": 2}, "lenet_scale"]


def _batch(*shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --------------------------------------------------------------------------- LeNet input

def test_lenet_scale_background_and_ink_exact():
    out = P.apply(np.array([[[0, 255]]], np.uint8), ["lenet_scale"])
    assert out.dtype == np.float32 and out.shape == (1, 1, 2, 1)
    assert out[0, 0, 0, 0] == np.float32(-0.1)  # background
    assert out[0, 0, 1, 0] == np.float32(1.175)  # ink
    every = P.apply(np.arange(256, dtype=np.uint8).reshape(1, 16, 16), ["lenet_scale"]).ravel()
    np.testing.assert_allclose(every, np.arange(256) / 255 * 1.275 - 0.1, rtol=0, atol=1e-7)  # float32 of the paper's


def test_lenet_pad_28_to_32_with_background():
    x = _batch(3, 28, 28)
    out = P.apply(x, LENET)
    assert out.shape == (3, 32, 32, 1)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(out[:, border] == np.float32(-0.1))  # padded raw 0 = background
    np.testing.assert_array_equal(out[:, 2:30, 2:30, 0], P.apply(x, ["lenet_scale"])[..., 0])
    assert P.input_shape_after(LENET, (28, 28)) == (32, 32, 1)


def test_pad_pair_and_value_and_nchw_free():
    x = np.ones((1, 2, 3, 2), np.uint8)
    out = P.apply(x, [{"pad": {"width": [1, 0], "value": 7}}])
    assert out.shape == (1, 4, 3, 2)
    assert out[0, 0].tolist() == [[7, 7]] * 3 and out[0, 1].tolist() == [[1, 1]] * 3


# --------------------------------------------------------------------------- affine steps

def test_rescale_and_normalize_per_channel():
    x = np.array([[[[0, 51, 255]]]], np.uint8)  # (1, 1, 1, 3)
    out = P.apply(x, [{"rescale": 1 / 255}, {"normalize": {"mean": [0.0, 0.1, 0.5], "std": [1, 0.5, 0.25]}}])
    np.testing.assert_allclose(out.ravel(), [0.0, (0.2 - 0.1) / 0.5, (1 - 0.5) / 0.25], rtol=1e-6)
    out = P.apply(x, [{"rescale": {"scale": 2, "offset": -1}}])
    assert out.ravel().tolist() == [-1, 101, 509]


def test_normalize_channel_count_must_match():
    with pytest.raises(P.PreprocessError, match="2 values for images with 1 channels"):
        P.apply(np.zeros((1, 2, 2), np.uint8), [{"normalize": {"mean": [0, 0], "std": 1}}])


# --------------------------------------------------------------------------- geometry

def test_resize_bilinear_by_hand():
    x = np.array([[0, 4]], np.float32).reshape(1, 1, 2, 1)
    out = P.apply(x, [{"resize": [1, 4]}])
    # half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    np.testing.assert_allclose(out.ravel(), [0, 1, 3, 4])


@pytest.mark.parametrize("size,method", [((32, 32), "bilinear"), ((13, 41), "bilinear"),
                                         ((20, 9), "nearest")])
def test_resize_matches_tensorflow(size, method):
    import tensorflow as tf

    x = _batch(2, 28, 28, 3)
    out = P.apply(x, [{"resize": {"size": list(size), "method": method}}])
    ref = tf.image.resize(x.astype(np.float32), size, method=method).numpy()
    assert out.shape == (2, *size, 3)
    np.testing.assert_allclose(out, ref, atol=1e-3)


def test_channels_grey_to_rgb_and_back():
    x = _batch(2, 4, 4)
    rgb = P.apply(x, [{"channels": 3}])
    assert rgb.shape == (2, 4, 4, 3) and np.all(rgb == rgb[..., :1])
    np.testing.assert_allclose(P.apply(rgb, [{"channels": 1}])[..., 0], x, rtol=1e-6)
    px = np.array([[[[255, 0, 0]]]], np.uint8)
    assert P.apply(px, [{"channels": 1}]).item() == pytest.approx(0.299 * 255)
    with pytest.raises(P.PreprocessError, match="between 1 and 3 channels"):
        P.input_shape_after([{"channels": 1}], (8, 8, 4))


def test_center_crop_and_too_large():
    x = np.arange(36, dtype=np.uint8).reshape(1, 6, 6)
    out = P.apply(x, [{"center_crop": [2, 4]}])
    np.testing.assert_array_equal(out[0, ..., 0], x[0, 2:4, 1:5])
    with pytest.raises(P.PreprocessError, match="larger than the"):
        P.apply(x, [{"center_crop": 7}])


# --------------------------------------------------------------------------- augmentation

def test_random_shift_moves_images_within_range():
    x = np.zeros((40, 9, 9), np.uint8)
    x[:, 4, 4] = 255  # one ink pixel in the centre
    steps = [{"random_shift": {"max": 2, "fill": "constant"}}]
    np.testing.assert_array_equal(P.apply(x, steps), P.apply(x, []))  # evaluation: unchanged
    out = P.apply(x, steps, training=True, rng=0)
    where = np.argwhere(out[..., 0] == 255)
    assert len(where) == 40  # the pixel survives every shift
    offsets = where[:, 1:] - 4
    assert np.abs(offsets).max() == 2 and len({tuple(o) for o in offsets}) > 5
    np.testing.assert_array_equal(out, P.apply(x, steps, training=True, rng=0))  # seeded
    assert not np.array_equal(out, P.apply(x, steps, training=True, rng=1))


def test_random_shift_edge_fill():
    x = np.full((8, 5, 5), 3, np.uint8)
    out = P.apply(x, [{"random_shift": 1}], training=True, rng=0)
    assert np.all(out == 3)  # edge fill never brings in anything new


def test_random_flip_each_image_original_or_mirrored():
    x = _batch(64, 5, 5)
    out = P.apply(x, [{"random_flip": "horizontal"}], training=True, rng=0)[..., 0]
    same = np.all(out == x, axis=(1, 2))
    flipped = np.all(out == x[:, :, ::-1], axis=(1, 2))
    assert np.all(same | flipped) and 10 < flipped.sum() < 54
    v = P.apply(x, [{"random_flip": "vertical"}], training=True, rng=0)[..., 0]
    assert np.all(np.all(v == x, axis=(1, 2)) | np.all(v == x[:, ::-1], axis=(1, 2)))


def test_random_crop_train_window_and_eval_centre():
    x = np.arange(25, dtype=np.uint8).reshape(1, 5, 5).repeat(30, axis=0)
    steps = [{"random_crop": {"size": [3, 3], "padding": 1}}]
    np.testing.assert_array_equal(P.apply(x, steps)[0, ..., 0], x[0, 1:4, 1:4])  # centre of padded
    out = P.apply(x, steps, training=True, rng=0)[..., 0]
    padded = np.pad(x[0], 1)
    windows = {padded[i:i + 3, j:j + 3].tobytes() for i in range(5) for j in range(5)}
    assert all(o.astype(np.uint8).tobytes() in windows for o in out)
    assert len({o.tobytes() for o in out}) > 5
    assert P.input_shape_after(steps, (5, 5)) == (3, 3, 1)


# --------------------------------------------------------------------------- steps as data

def test_normalize_steps_forms():
    canon = P.normalize_steps([{"pad": 2}, "lenet_scale", {"resize": [32, 32]}, {"channels": 3},
                               {"random_flip": None}])
    assert canon == [{"pad": {"width": [2, 2], "value": 0.0}}, {"lenet_scale": {}},
                     {"resize": {"size": [32, 32], "method": "bilinear"}}, {"channels": {"count": 3}},
                     {"random_flip": {"mode": "horizontal"}}]
    assert P.normalize_steps(canon) == canon and P.normalize_steps(None) == []


@pytest.mark.parametrize("steps,match", [
    ([{"blur": 1}], "unknown preprocessing step 'blur'; available: pad, lenet_scale"),
    ([{"pad": -1}], r"Received: pad.width=-1"),
    ([{"pad": {"widht": 2}}], "pad: unknown parameter 'widht'; allowed: width, value"),
    ([{"normalize": {"mean": 0.5}}], "normalize needs both mean and std"),
    ([{"normalize": {"mean": 0.5, "std": 0}}], r"normalize.std must be positive"),
    ([{"resize": [0, 4]}], r"Received: resize.size=\[0, 4\]"),
    ([{"channels": 2}], r"channels.count must be one of 1, 3"),
    ([{"random_flip": "diagonal"}], "random_flip.mode must be one of horizontal, vertical, both"),
    ([{"lenet_scale": 3}], "lenet_scale takes no parameters"),
    ([{"pad": 2, "lenet_scale": {}}], "one-key mapping"),
    ({"pad": 2}, "must be a list of steps"),
])
def test_bad_steps(steps, match):
    with pytest.raises(P.PreprocessError, match=match):
        P.normalize_steps(steps)


def test_describe_one_line_per_step():
    lines = P.describe(LENET + [{"random_shift": 2}])
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert lines[0].startswith("pad: 2 px") and "-0.1" in lines[1] and "1.175" in lines[1]
    assert "training only" in lines[2]


def test_short_names_every_step_and_an_augmentation_s_main_parameter():
    steps = LENET + [{"normalize": {"mean": 0.1, "std": 0.5}}, {"random_shift": 2}, "random_flip"]
    assert P.short(steps) == "pad, lenet_scale, normalize, random_shift 2, random_flip horizontal"
    assert P.short([]) == ""


def test_json_round_trip_reproduces_outputs():
    steps = LENET + [{"normalize": {"mean": 0.1, "std": 0.5}}, {"random_crop": [30, 30]}]
    text = P.to_json(steps)
    assert json.loads(text)[0] == {"pad": {"width": [2, 2], "value": 0.0}}
    x = _batch(4, 28, 28)
    np.testing.assert_array_equal(P.apply(x, P.from_json(text)), P.apply(x, steps))


def test_split_static_and_is_augmentation():
    static, dynamic = P.split_static(LENET + [{"random_flip": "horizontal"}, {"channels": 3}])
    assert [next(iter(s)) for s in static] == ["pad", "lenet_scale"]
    assert [next(iter(s)) for s in dynamic] == ["random_flip", "channels"]
    assert P.is_augmentation("random_flip") and not P.is_augmentation({"pad": 1})


def test_apply_shapes_dtypes_and_purity():
    x = _batch(2, 6, 6)
    before = x.copy()
    a, b = P.apply(x, LENET), P.apply(x[..., None], LENET)
    np.testing.assert_array_equal(a, b)
    assert a.flags.c_contiguous and a.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert P.apply(x, []).dtype == np.float32
    with pytest.raises(P.PreprocessError, match=r"Received: shape=\(6, 6\)"):
        P.apply(x[0], LENET)


def test_input_shape_after_chain():
    steps = [{"pad": 2}, {"resize": [224, 224]}, {"channels": 3}, {"random_crop": [200, 200]}]
    assert P.input_shape_after(steps, (28, 28)) == (200, 200, 3)
    assert P.input_shape_after([], (28, 28, 3)) == (28, 28, 3)
