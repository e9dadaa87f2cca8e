"""NumPy references for convolution and max pooling, written from the definition.

Nothing here uses Keras or ``layers.arithmetic``: the output size, the padding
and the windows are worked out again, with loops, so that the tests compare
two independent implementations. Keep inputs tiny.

Conventions: ``x`` is channels-last ``(B, *spatial, C)`` unless
``data_format="channels_first"``; a conv kernel is ``(*F, C, K)`` (Keras'
layout); ``padding`` is ``"valid"``, ``"same"`` or one ``(lo, hi)`` pair per
spatial axis.
"""

from __future__ import annotations

import math

import numpy as np


def _pairs(padding, spatial, kernel_size, strides, dilation):
    rank = len(spatial)
    if padding == "valid":
        return [(0, 0)] * rank
    if padding == "same":
        # TensorFlow's rule: W2 = ceil(W1 / S); the odd cell of padding goes after.
        pairs = []
        for w, f, s, d in zip(spatial, kernel_size, strides, dilation):
            extent = d * (f - 1) + 1
            total = max((math.ceil(w / s) - 1) * s + extent - w, 0)
            pairs.append((total // 2, total - total // 2))
        return pairs
    return [tuple(p) for p in padding]


def ref_output_size(w, f, s, lo, hi, d=1, rounding="floor"):
    """W2 = (W1 − F + P_lo + P_hi)/S + 1, rounded down ("floor", "exact") or up ("ceil").

    Ceil adds one more, partial window when S leaves a remainder, but only if
    that window starts inside the input or the left padding (Caffe, PyTorch).
    """
    extent = d * (f - 1) + 1
    numerator = w + lo + hi - extent
    out = numerator // s + 1
    if rounding == "ceil" and numerator % s and out * s < w + lo:
        out += 1
    return out


def _windows(x, kernel_size, strides, padding, dilation, rounding, fill):
    """Padded input and, per output position, the index of every window tap.

    Yields ``(out_index, taps)`` where ``taps`` is a tuple of per-axis index
    arrays into the padded input (channels-last, batch axis excluded).
    """
    spatial = x.shape[1:-1]
    pairs = _pairs(padding, spatial, kernel_size, strides, dilation)
    out = [ref_output_size(w, f, s, lo, hi, d, rounding)
           for w, f, s, (lo, hi), d in zip(spatial, kernel_size, strides, pairs, dilation)]
    # Ceil rounding may let the last window run past P_hi: extend with `fill`.
    widths = [(0, 0)]
    for w, f, s, (lo, hi), d, o in zip(spatial, kernel_size, strides, pairs, dilation, out):
        last = (o - 1) * s + d * (f - 1)  # last tap, in padded coordinates
        widths.append((lo, max(hi, last + 1 - (w + lo))))
    widths.append((0, 0))
    xp = np.pad(x, widths, constant_values=fill)
    return xp, out


def conv_reference(x, kernel, bias=None, strides=1, padding="valid", dilation=1,
                   rounding="floor", data_format="channels_last"):
    """y[b, o..., k] = sum_{taps, c} x_pad[b, o·S + tap·D, c] · kernel[tap, c, k] + bias[k]."""
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    rank = kernel.ndim - 2
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    kernel_size = kernel.shape[:rank]
    xp, out = _windows(x, kernel_size, strides, padding, dilation, rounding, 0.0)
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]))
    for o in np.ndindex(*out):
        for tap in np.ndindex(*kernel_size):
            idx = tuple(oi * s + ti * d for oi, ti, s, d in zip(o, tap, strides, dilation))
            # (B, C) @ (C, K)
            y[(slice(None), *o)] += xp[(slice(None), *idx)] @ kernel[tap]
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    if data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return y


def conv_input_gradient(x_shape, kernel, upstream, strides=1, padding="valid", dilation=1,
                        rounding="floor"):
    """d/dx of sum(conv(x) * upstream): every output scatters upstream·kernel back to its taps.

    Channels-last. This is the "full" correlation with the flipped kernel,
    written as the transpose of :func:`conv_reference`'s loop.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    rank = kernel.ndim - 2
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    kernel_size = kernel.shape[:rank]
    xp, out = _windows(np.zeros(x_shape), kernel_size, strides, padding, dilation, rounding, 0.0)
    grad = np.zeros_like(xp)
    for o in np.ndindex(*out):
        g = upstream[(slice(None), *o)]  # (B, K)
        for tap in np.ndindex(*kernel_size):
            idx = tuple(oi * s + ti * d for oi, ti, s, d in zip(o, tap, strides, dilation))
            grad[(slice(None), *idx)] += g @ kernel[tap].T
    pairs = _pairs(padding, x_shape[1:-1], kernel_size, strides, dilation)
    crop = tuple(slice(lo, lo + w) for (lo, _), w in zip(pairs, x_shape[1:-1]))
    return grad[(slice(None), *crop)]


def conv_kernel_gradient(x, kernel_shape, upstream, strides=1, padding="valid", dilation=1,
                         rounding="floor"):
    """d/dkernel of sum(conv(x) * upstream): sum over outputs of x_tap ⊗ upstream."""
    x = np.asarray(x, dtype=np.float64)
    rank = len(kernel_shape) - 2
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    kernel_size = kernel_shape[:rank]
    xp, out = _windows(x, kernel_size, strides, padding, dilation, rounding, 0.0)
    grad = np.zeros(kernel_shape)
    for o in np.ndindex(*out):
        g = upstream[(slice(None), *o)]  # (B, K)
        for tap in np.ndindex(*kernel_size):
            idx = tuple(oi * s + ti * d for oi, ti, s, d in zip(o, tap, strides, dilation))
            grad[tap] += xp[(slice(None), *idx)].T @ g  # (C, K)
    return grad


def max_pool_reference(x, pool_size, strides=None, padding="valid", rounding="floor",
                       data_format="channels_last"):
    """y[b, o..., c] = max over the window of x padded with −∞ (padded cells never win)."""
    x = np.asarray(x, dtype=np.float64)
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    rank = x.ndim - 2
    pool_size = (pool_size,) * rank if np.isscalar(pool_size) else tuple(pool_size)
    strides = pool_size if strides is None else strides
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    xp, out = _windows(x, pool_size, strides, padding, (1,) * rank, rounding, -np.inf)
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    for o in np.ndindex(*out):
        window = tuple(slice(oi * s, oi * s + f) for oi, s, f in zip(o, strides, pool_size))
        patch = xp[(slice(None), *window)]  # (B, *F, C)
        y[(slice(None), *o)] = patch.reshape(x.shape[0], -1, x.shape[-1]).max(1)
    if data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return y


def max_pool_input_gradient(x, upstream, pool_size, strides=None, padding="valid",
                            rounding="floor"):
    """d/dx of sum(max_pool(x) * upstream): each window sends its upstream value to its max.

    Channels-last; assumes no ties inside a window (use continuous random inputs).
    """
    x = np.asarray(x, dtype=np.float64)
    rank = x.ndim - 2
    pool_size = (pool_size,) * rank if np.isscalar(pool_size) else tuple(pool_size)
    strides = pool_size if strides is None else strides
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    xp, out = _windows(x, pool_size, strides, padding, (1,) * rank, rounding, -np.inf)
    grad = np.zeros_like(xp)
    for b in range(x.shape[0]):
        for c in range(x.shape[-1]):
            for o in np.ndindex(*out):
                window = tuple(slice(oi * s, oi * s + f) for oi, s, f in zip(o, strides, pool_size))
                patch = xp[(b, *window, c)]
                best = np.unravel_index(np.argmax(patch), patch.shape)
                grad[(b, *(w.start + i for w, i in zip(window, best)), c)] += upstream[(b, *o, c)]
    pairs = _pairs(padding, x.shape[1:-1], pool_size, strides, (1,) * rank)
    crop = tuple(slice(lo, lo + w) for (lo, _), w in zip(pairs, x.shape[1:-1]))
    return grad[(slice(None), *crop, slice(None))]


def random_input_size(rng, extent, stride, lo, hi, rounding):
    """A random input width W1 for which a window of ``extent`` (stride S, pads lo/hi) fits.

    exact: (W1 − extent + lo + hi) is a multiple of S; ceil: down to S − 1
    cells short of a whole window (ceil still fits one); floor: any W1 from a
    whole window up to 4 cells more.
    """
    if rounding == "exact":
        w = extent - lo - hi + stride * int(rng.integers(0, 3))
        while w < 1:
            w += stride
        return w
    if rounding == "ceil":
        return max(1, extent - lo - hi + int(rng.integers(1 - stride, 5)))
    return max(1, extent - lo - hi + int(rng.integers(0, 5)))
