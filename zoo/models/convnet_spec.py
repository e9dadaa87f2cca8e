"""The parametric stack ``[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K-SOFTMAX`` as data.

Pure Python, no Keras: parsing a spec and planning its shapes is what the
builder, the model card and the tuner's feasibility check share, and the
tuner must be able to reject a configuration without building it.

Grammar (case and spaces ignored; ``*1`` may be left out)::

    spec   := group ("-" group)* ["-" "(FC-RELU)*" K] "-SOFTMAX"
    group  := "[" "(" unit ")*" N ["-POOL"] "]*" M
    unit   := "CONV-RELU" | "CONV-BN-RELU"

e.g. ``[(CONV-RELU)*2-POOL]*3-(FC-RELU)*2-SOFTMAX`` is 3 stages of 2 convs
and a pool, then 2 hidden FC layers. ``CONV-BN-RELU`` puts batch norm
(Ioffe & Szegedy 2015) between a group's convs and their ReLUs, as
torchvision's ``vgg16_bn``: ``[(CONV-BN-RELU)*2-POOL]*2-...``. VGG-16 is
``[(CONV-RELU)*2-POOL]*2-[(CONV-RELU)*3-POOL]*3-(FC-RELU)*2-SOFTMAX`` with
K = 64, 128, 256, 512, 512 (see zoo/models/vgg.py). Hyperparameters are given per conv
layer, per stage, or once for all: ``filters`` (K), ``kernel_size`` (F),
``strides`` (S), ``padding`` (P); ``pool_size`` and ``pool_strides``;
``fc_units``.

Bounds: at most ``MAX_LAYERS`` layers, and per image no layer output above
``MAX_VOLUME`` values, no layer above ``MAX_WEIGHTS`` weights and no more than
``MAX_MULTIPLY_ADDS`` in all; checked on the numbers, before anything is
allocated (a spec such as ``[(CONV-RELU)*1]*100000000000-SOFTMAX`` is refused
at once, not after a MemoryError).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import Mapping, Sequence

from cnn_zoo.errors import ZooError
from cnn_zoo.family import Planner
from cnn_zoo.layers.arithmetic import conv_multiply_adds, conv_weights, output_size
from cnn_zoo.layers.arguments import is_int

_GROUP = r"\[\(CONV(-BN)?-RELU\)(?:\*(\d+))?(-POOL)?\](?:\*(\d+))?"
_FC = r"\(FC-RELU\)(?:\*(\d+))?"
EXAMPLE = "[(CONV-RELU)*2-POOL]*2-(FC-RELU)*1-SOFTMAX"

# Bounds far above any useful stack (VGG-19 has 24 layers, GoogLeNet 1.5e9
# multiply-adds), low enough that planning and building stay instant and a
# tensor stays within what 32-bit indexing (GPU kernels, TFLite) can address.
MAX_LAYERS = 1000
MAX_VOLUME = 2**31 - 1          # values in one layer's output, per image
MAX_WEIGHTS = 2**31 - 1         # weights of one layer (8 GiB of float32)
MAX_MULTIPLY_ADDS = 10**12      # per image, conv and hidden FC layers (~650 GoogLeNets)


class SpecError(ZooError):
    """A convnet spec that does not follow the grammar, or exceeds the bounds."""


@dataclasses.dataclass(frozen=True)
class Stage:
    convs: int
    pool: bool
    batch_norm: bool = False  # CONV-BN-RELU


def parse_spec(spec: str) -> tuple[tuple[Stage, ...], int]:
    """``(stages, fc_layers)`` of a spec string; :class:`SpecError` if it does not parse."""
    text = re.sub(r"\s+", "", str(spec)).upper()
    stages: list[Stage] = []
    rest = text
    while rest.startswith("["):
        m = re.match(_GROUP, rest)
        if not m:
            raise SpecError(f"cannot read the stage group at {rest[:30]!r} in spec {spec!r}; "
                            f"a group looks like [(CONV-RELU)*2-POOL]*3, e.g. {EXAMPLE}")
        n, pool, groups = _count(m.group(2), spec), bool(m.group(3)), _count(m.group(4), spec)
        if n < 1 or groups < 1:
            raise SpecError(f"N and M must be >= 1 in {m.group(0)!r} (spec {spec!r})")
        _check_depth(sum(s.convs + s.pool for s in stages) + (n + pool) * groups, spec)
        stages += [Stage(n, pool, bool(m.group(1)))] * groups
        rest = rest[m.end():]
        rest = rest[1:] if rest.startswith("-") else rest
    if not stages:
        raise SpecError(f"spec {spec!r} must start with a stage group such as [(CONV-RELU)*2-POOL]*3; "
                        f"e.g. {EXAMPLE}")
    fc = 0
    m = re.match(_FC, rest)
    if m:
        fc = _count(m.group(1), spec)
        _check_depth(sum(s.convs + s.pool for s in stages) + fc, spec)
        rest = rest[m.end():]
        rest = rest[1:] if rest.startswith("-") else rest
    if rest != "SOFTMAX":
        raise SpecError(f"spec {spec!r} must end with (FC-RELU)*K-SOFTMAX or SOFTMAX, "
                        f"found {rest!r} instead; e.g. {EXAMPLE}")
    return tuple(stages), fc


def _count(digits: str | None, spec) -> int:
    """A repeat count; one of thousands of digits is refused before int() (Python caps at 4,300)."""
    if digits is None:
        return 1
    if len(digits) > 30:
        raise SpecError(f"spec {_short(spec)} repeats a group a {len(digits):,}-digit number of "
                        f"times; at most {MAX_LAYERS:,} layers are allowed, e.g. {EXAMPLE}")
    return int(digits)


def _check_depth(layers: int, spec) -> None:
    if layers > MAX_LAYERS:
        raise SpecError(f"spec {_short(spec)} has {layers:,} layers; at most {MAX_LAYERS:,} are "
                        f"allowed (lower N, M or K), e.g. {EXAMPLE}")


def _short(spec) -> str:
    text = repr(str(spec))
    return text if len(text) <= 80 else text[:77] + "...'"


def _check_size(name: str, output: tuple, weights: int, macs: int) -> None:
    """The bounds of one planned layer and of the running multiply-add total."""
    volume = math.prod(output)
    shape = "×".join(map(str, output))
    what = f"the input {shape}" if name == "input" else f"{name}: its output {shape}"
    if volume > MAX_VOLUME:
        raise SpecError(f"{what} holds {volume:,} values per image; at most "
                        f"{MAX_VOLUME:,} are allowed: use fewer filters or units, a smaller input, "
                        "or more pooling")
    if weights > MAX_WEIGHTS:
        raise SpecError(f"{name}: {weights:,} weights; at most {MAX_WEIGHTS:,} per layer are "
                        "allowed: use fewer filters or units, or pool before the FC layers")
    if macs > MAX_MULTIPLY_ADDS:
        raise SpecError(f"{name}: the stack needs {macs:,} multiply-adds per image up to here; at "
                        f"most {MAX_MULTIPLY_ADDS:,} are allowed: use fewer or narrower layers, a "
                        "smaller input, or larger strides")


def _per(value, counts: Sequence[int], name: str):
    """One value per conv layer from a scalar, a per-stage list or a per-layer list of lists."""
    stages = len(counts)
    if not isinstance(value, (list, tuple)):
        return [[value] * n for n in counts]
    if len(value) != stages:
        raise SpecError(f"`{name}` needs one value, or one per stage ({stages}). Received: {name}={value!r}")
    out = []
    for stage, (v, n) in enumerate(zip(value, counts), 1):
        if isinstance(v, (list, tuple)):
            if len(v) != n:
                raise SpecError(f"`{name}` for stage {stage} needs {n} values (one per conv). "
                                f"Received: {name}={value!r}")
            out.append(list(v))
        else:
            out.append([v] * n)
    return out


@dataclasses.dataclass(frozen=True)
class PlannedLayer:
    name: str             # fixed layer name, e.g. "stage2_conv1"
    kind: str             # "conv", "max_pool" or "dense"
    args: dict            # conv: filters, kernel_size, strides, padding; pool: pool_size, strides
    output: tuple         # output volume (H, W, D), or (units,) for dense
    stage: int = 0        # the conv stage, from 1; 0 for the FC layers
    batch_norm: bool = False  # a conv of a CONV-BN-RELU group


@dataclasses.dataclass(frozen=True)
class Plan:
    """Every layer of a convnet in order, with its output volume."""

    layers: tuple
    input_shape: tuple = ()

    def of_kind(self, kind):
        return [layer for layer in self.layers if layer.kind == kind]

    @property
    def multiply_adds(self) -> int:
        """Per image, counted as the model card counts them: W2·H2·(F·F·D1)·K per conv and
        inputs·units per hidden FC layer. The classifier (inputs·classes) is left out: the
        plan does not know the number of classes."""
        total, volume = 0, self.input_shape
        for layer in self.layers:
            if layer.kind == "conv":
                f = layer.args["kernel_size"]
                total += conv_multiply_adds(layer.output[:2], (f, f), volume[-1], layer.output[-1])
            elif layer.kind == "dense":
                total += math.prod(volume) * layer.output[0]
            volume = layer.output
        return total


def plan_convnet(input_shape, spec=EXAMPLE, *, filters=32, kernel_size=3, strides=1, padding=1,
                 pool_size=2, pool_strides=None, fc_units=128, adaptive_pool=None,
                 rounding="exact") -> Plan:
    """Check a convnet's arithmetic stage by stage before anything is built.

    ``adaptive_pool=(H, W)`` averages the last conv volume onto an H×W grid
    before the FC layers (torchvision's VGG: 7×7), so their weights fit any
    input the convs accept.

    Raises :class:`SpecError` for a malformed spec or argument and
    :class:`~layers.arithmetic.ShapeError` naming the stage (e.g.
    ``stage2_conv1``) for a shape that cannot exist.
    """
    stages, fc = parse_spec(spec)
    counts = [s.convs for s in stages]
    per = {name: _per(v, counts, name) for name, v in
           (("filters", filters), ("kernel_size", kernel_size), ("strides", strides), ("padding", padding))}
    for name, rows in per.items():
        for v in (x for row in rows for x in row):
            if not is_int(v) or v < (0 if name == "padding" else 1):
                raise SpecError(f"`{name}` values must be ints >= {0 if name == 'padding' else 1}. "
                                f"Received: {name}={v!r}")
    units = list(fc_units) if isinstance(fc_units, (list, tuple)) else [fc_units] * fc
    if len(units) != fc or any(not isinstance(u, int) or u < 1 for u in units):
        raise SpecError(f"`fc_units` needs one positive int, or one per FC layer ({fc}). "
                        f"Received: fc_units={fc_units!r}")
    pool_strides = pool_size if pool_strides is None else pool_strides
    (h, w, d), planned, macs = input_shape, [], 0
    _check_size("input", tuple(input_shape), 0, 0)
    for s, stage in enumerate(stages, 1):
        for c in range(stage.convs):
            name = f"stage{s}_conv{c + 1}"
            args = {k: per[k][s - 1][c] for k in ("filters", "kernel_size", "strides", "padding")}
            h, w = (output_size(v, args["kernel_size"], args["strides"], args["padding"], rounding,
                                layer=name) for v in (h, w))
            f, depth_in, d = args["kernel_size"], d, args["filters"]
            macs += conv_multiply_adds((h, w), (f, f), depth_in, d)
            _check_size(name, (h, w, d), conv_weights((f, f), depth_in, d), macs)
            planned.append(PlannedLayer(name, "conv", args, (h, w, d), s, stage.batch_norm))
        if stage.pool:
            name = f"stage{s}_pool"
            h, w = (output_size(v, pool_size, pool_strides, 0, rounding, layer=name) for v in (h, w))
            planned.append(PlannedLayer(name, "max_pool", dict(pool_size=pool_size, strides=pool_strides),
                                        (h, w, d), s))
    if adaptive_pool is not None:
        if not isinstance(adaptive_pool, (list, tuple)) or len(adaptive_pool) != 2 or any(
                not is_int(v) or v < 1 for v in adaptive_pool):
            raise SpecError(f"`adaptive_pool` must be None or two positive ints (H, W). "
                            f"Received: adaptive_pool={adaptive_pool!r}")
        h, w = adaptive_pool
        planned.append(PlannedLayer("avgpool", "adaptive_avg_pool",
                                    dict(output_size=tuple(adaptive_pool)), (h, w, d)))
    inputs = h * w * d
    for i, u in enumerate(units, 1):
        macs += inputs * u
        _check_size(f"fc{i}", (u,), inputs * u, macs)
        planned.append(PlannedLayer(f"fc{i}", "dense", dict(units=u), (u,)))
        inputs = u
    return Plan(tuple(planned), tuple(input_shape))


class ConvnetPlanner(Planner):
    """The convnet family's planner: :func:`plan_convnet` on a builder's arguments, for the tuner."""

    arguments = tuple(p for p in inspect.signature(plan_convnet).parameters if p != "input_shape")
    defaults = {name: p.default for name, p in inspect.signature(plan_convnet).parameters.items()
                if p.default is not inspect.Parameter.empty}
    malformed = (SpecError,)
    PER_STAGE = ("filters", "kernel_size", "strides", "padding")

    def plan(self, input_shape, kwargs: Mapping) -> int:
        plan = plan_convnet(input_shape, **{k: kwargs[k] for k in self.arguments if k in kwargs})
        return plan.multiply_adds

    def lengths(self, kwargs: Mapping, path: tuple) -> int | None:
        """One value per stage (K/F/S/P), per FC layer (fc_units), or per conv of a stage."""
        stages, fc = parse_spec(kwargs.get("spec", self.defaults["spec"]))
        if len(path) == 1 and path[0] in self.PER_STAGE:
            return len(stages)
        if len(path) == 1 and path[0] == "fc_units":
            return fc
        if len(path) == 2 and path[0] in self.PER_STAGE and isinstance(path[1], int):
            return stages[path[1]].convs
        return None


PLANNER = ConvnetPlanner()
