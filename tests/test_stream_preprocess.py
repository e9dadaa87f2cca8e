"""Each streamable step's TensorFlow form (tf_apply, one image in a tf.data map) gives
the pixels of its NumPy form (apply, a batch): one definition, two backends."""

import numpy as np
import pytest
import tensorflow as tf

from cnn_zoo import preprocess
from cnn_zoo.preprocess.image import ColorJitter, RandomResizedCrop, _NumpyOps, _TfOps

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, (37, 53, 3)).astype(np.uint8)


def _tf(img, steps, training=False, seed=(1, 2)):
    return preprocess.tf_apply(tf.constant(img), steps, training=training,
                               seed=tf.constant(seed, tf.int64)).numpy()


@pytest.mark.parametrize("steps", [
    [{"resize": [20, 30]}],
    [{"resize": {"size": [20, 30], "method": "nearest"}}],
    [{"resize_shorter": 24}],
    [{"resize_shorter": {"size": 24, "antialias": True}}],  # PIL's kernel (NumPy) vs tf.image's
    [{"center_crop": [21, 17]}],
    [{"pad": 2}, "lenet_scale"],
    [{"rescale": 1 / 255}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}],
    [{"channel_order": "bgr"}, {"normalize": {"mean": [104.0, 117.0, 123.0], "std": 1.0}}],
    [{"channels": 1}],
    [{"random_resized_crop": 16}],              # evaluation form: shorter side 18, centre 16
    [{"random_crop": {"size": 30, "padding": 1}}],  # evaluation form: the centre crop
    ["random_flip", "color_jitter"],            # evaluation form: unchanged
])
def test_evaluation_forms_agree(steps):
    want = preprocess.apply(IMAGE[None], steps)[0]
    got = _tf(IMAGE, steps)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-3)


def test_resize_shorter_antialias_is_pils_resize():
    """antialias: PIL's bilinear resize itself (what torchvision's Resize runs on PIL images), up to
    PIL's uint8 rounding; without it the shrink is plain half-pixel bilinear (no wider kernel)."""
    from PIL import Image

    steps = [{"resize_shorter": {"size": 24, "antialias": True}}]
    pil = np.asarray(Image.fromarray(IMAGE).resize((34, 24), Image.Resampling.BILINEAR), np.float32)
    assert np.max(np.abs(preprocess.apply(IMAGE[None], steps)[0] - pil)) <= 1.0
    assert np.max(np.abs(preprocess.apply(IMAGE[None], [{"resize_shorter": 24}])[0] - pil)) > 5
    with pytest.raises(preprocess.PreprocessError, match="antialias"):
        preprocess.normalize_steps([{"resize_shorter": {"size": 24, "method": "nearest", "antialias": True}}])


def test_grey_to_rgb_agrees():
    grey = IMAGE[..., :1]
    np.testing.assert_array_equal(_tf(grey, [{"channels": 3}]), preprocess.apply(grey[None], [{"channels": 3}])[0])


def test_resize_shorter_keeps_the_aspect_ratio_as_torchvision():
    assert preprocess.input_shape_after([{"resize_shorter": 256}], (375, 500)) == (256, 341, 1)
    assert preprocess.input_shape_after([{"resize_shorter": 256}], (500, 375)) == (341, 256, 1)
    assert _tf(np.zeros((375, 500, 3), np.uint8), [{"resize_shorter": 256}]).shape == (256, 341, 3)
    assert preprocess.input_shape_after([{"resize_shorter": 256}], (None, None, 3)) == (None, None, 3)


def test_random_resized_crop_box_is_one_rule_in_both_forms():
    params = preprocess.normalize_steps([{"random_resized_crop": 224}])[0]["random_resized_crop"]
    for H, W in [(375, 500), (500, 375), (50, 1000), (224, 224)]:
        for _ in range(20):
            u = RNG.random((RandomResizedCrop.TRIES, 4)).astype(np.float32)
            want = RandomResizedCrop.box(H, W, params, u)
            got = [int(v) for v in RandomResizedCrop.tf_box(H, W, params, tf.constant(u))]
            assert got == list(want), (H, W, u)
            top, left, h, w = want
            assert 0 <= top and top + h <= H and 0 <= left and left + w <= W


def test_random_resized_crop_draws_the_papers_area_and_aspect():
    params = preprocess.normalize_steps([{"random_resized_crop": 8}])[0]["random_resized_crop"]
    boxes = [RandomResizedCrop.box(1000, 1000, params, RNG.random((10, 4))) for _ in range(2000)]
    area = np.array([h * w for _, _, h, w in boxes]) / 1e6
    aspect = np.array([w / h for _, _, h, w in boxes])
    assert 0.075 <= area.min() and area.max() <= 1.0 and 0.44 < area.mean() < 0.54  # uniform 0.54, less the large crops that do not fit
    assert 0.74 <= aspect.min() and aspect.max() <= 1.34


def test_color_jitter_is_one_rule_in_both_forms():
    img = IMAGE.astype(np.float32)
    for fb, fc, fs in [(1.0, 1.0, 1.0), (0.6, 1.4, 0.5), (1.5, 0.5, 1.5)]:
        want = ColorJitter.jitter(img, np.float32(fb), np.float32(fc), np.float32(fs), _NumpyOps)
        got = ColorJitter.jitter(tf.constant(img), fb, fc, fs, _TfOps()).numpy()
        np.testing.assert_allclose(got, want, atol=1e-3)
    np.testing.assert_allclose(ColorJitter.jitter(img, 1.0, 1.0, 1.0, _NumpyOps), img, atol=1e-3)


def test_training_forms_augment_by_seed():
    steps = [{"random_resized_crop": 16}, "random_flip", "color_jitter"]
    a, b, c = _tf(IMAGE, steps, True, (1, 2)), _tf(IMAGE, steps, True, (1, 2)), _tf(IMAGE, steps, True, (3, 4))
    assert a.shape == (16, 16, 3) and 0 <= a.min() and a.max() <= 255
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    x = preprocess.apply(np.stack([IMAGE] * 4), steps, training=True, rng=0)
    assert x.shape == (4, 16, 16, 3) and not np.array_equal(x[0], x[1])


def test_flip_in_tf_is_a_mirror_or_nothing():
    seen = set()
    for s in range(20):
        out = _tf(IMAGE, ["random_flip"], True, (s, 0))
        seen.add("same" if np.array_equal(out, IMAGE) else "mirror")
        assert np.array_equal(out, IMAGE) or np.array_equal(out, IMAGE[:, ::-1])
    assert seen == {"same", "mirror"}


def test_image_steps_check_their_parameters():
    with pytest.raises(preprocess.PreprocessError, match="random_resized_crop.scale"):
        preprocess.normalize_steps([{"random_resized_crop": {"size": 8, "scale": [0.5, 0.1]}}])
    with pytest.raises(preprocess.PreprocessError, match="color_jitter.brightness"):
        preprocess.normalize_steps([{"color_jitter": {"brightness": 1.5}}])
    with pytest.raises(preprocess.PreprocessError, match="needs images of one size"):
        preprocess.input_shape_after([{"pad": 2}], (None, None, 3))
    assert "0.08-1 of the area" in preprocess.describe([{"random_resized_crop": 224}])[0]
