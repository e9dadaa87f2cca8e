"""TensorFlow forms of the steps, on one image (H, W, C) float32 inside a tf.data map.

Each step's tf_apply calls these; they repeat the NumPy arithmetic of
cnn_zoo.preprocess.steps (half-pixel bilinear resize, centre crops that round
down, BT.601 luma), and tests/test_preprocess_tf.py checks every step's two forms
agree. TensorFlow is imported on first use: the NumPy path never needs it.
"""

from __future__ import annotations

LUMA = (0.299, 0.587, 0.114)
# libjpeg's accurate IDCT, the one Pillow uses: a streamed image equals the in-memory and
# the prediction one (the fast default differs by up to 3 levels).
DCT = "INTEGER_ACCURATE"


def tf():
    import tensorflow  # the NumPy path never needs TensorFlow

    return tensorflow


def resize(img, h, w, method="bilinear", antialias=False):
    """As steps._resize: half-pixel centres, no antialias (tf.image.resize's own rule);
    antialias=True: the kernel widened when shrinking, as PIL (image.resize_antialiased)."""
    t = tf()
    out = t.image.resize(img, t.stack([h, w]), method=method, antialias=antialias)
    return t.cast(out, t.float32)


def center_crop(img, h, w):
    t = tf()
    shape = t.shape(img)
    top, left = (shape[0] - h) // 2, (shape[1] - w) // 2
    return img[top:top + h, left:left + w]


def uniform(seed, shape=(), lo=0.0, hi=1.0):
    t = tf()
    return t.random.stateless_uniform(shape, seed=seed, minval=lo, maxval=hi, dtype=t.float32)


def split(seed, n):
    """n independent seeds from one (a [2] int tensor)."""
    return tf().random.experimental.stateless_split(seed, n)


def luma(img):
    t = tf()
    return t.tensordot(img, t.constant(LUMA, t.float32), axes=[[2], [0]])[..., None]
