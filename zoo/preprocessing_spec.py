"""The preprocessing contract as one typed object: what a model's input went through.

A :class:`Preprocessing` travels from training (a run's ``preprocessing.json``)
through tuning and publishing to the hub manifest's ``preprocessing`` entry and
back to prediction: ``steps`` (:mod:`cnn_zoo.preprocess`'s normalised list),
``raw_shape`` (the stored images, H×W×C) and ``input_shape`` (the model's input
after the steps). On disk it is a plain dict (:meth:`to_dict`, :meth:`from_dict`),
so every run folder and manifest reads the same whichever version wrote it.

NumPy only; :meth:`layer` imports Keras (the evaluation-time steps as a layer).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from cnn_zoo import preprocess
from cnn_zoo.errors import ZooError
from cnn_zoo.layers.arguments import is_int

FIELDS = ("steps", "raw_shape", "input_shape")


def _shape(value, field: str) -> tuple[int, ...]:
    # A model trained on streamed images of any size stores raw_shape [None, None, C].
    def ok(i, v):
        return (v is None and field == "raw_shape" and i < 2) or (
            is_int(v) and v >= 1)

    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value or not all(
            ok(i, v) for i, v in enumerate(value)):
        raise ZooError(f"preprocessing: `{field}` must be positive ints (height, width, channels; "
                       f"raw_shape's height and width may be null: any size). Received: {field}={value!r}")
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """``steps`` applied to images of ``raw_shape`` give the model's ``input_shape``."""

    steps: tuple
    raw_shape: tuple
    input_shape: tuple

    def __post_init__(self):
        steps = preprocess.normalize_steps(list(self.steps))  # a PreprocessError names a bad step
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "raw_shape", _shape(self.raw_shape, "raw_shape"))
        object.__setattr__(self, "input_shape", _shape(self.input_shape, "input_shape"))

    @classmethod
    def of(cls, steps, raw_shape) -> "Preprocessing":
        """The contract of ``steps`` on images of ``raw_shape``; the input shape is computed."""
        raw_shape = _shape(raw_shape, "raw_shape")
        return cls(tuple(preprocess.normalize_steps(steps)), raw_shape,
                   tuple(preprocess.input_shape_after(steps, raw_shape)))

    @classmethod
    def from_dict(cls, data: Mapping) -> "Preprocessing":
        """From a run's preprocessing.json or a manifest entry; other keys (class names, notes) are ignored.

        Without ``input_shape`` (a user's ``{"steps", "raw_shape"}``) it is computed from the steps.
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping) or "steps" not in data or "raw_shape" not in data:
            raise ZooError("preprocessing must be a mapping with 'steps' and 'raw_shape' (and "
                           f"'input_shape'), e.g. {{'steps': [], 'raw_shape': [28, 28, 1]}}. Received: {data!r}")
        if "input_shape" not in data:
            return cls.of(data["steps"], data["raw_shape"])
        return cls(tuple(data["steps"]), data["raw_shape"], data["input_shape"])

    def to_dict(self) -> dict:
        """The JSON form: ``{"steps": [...], "raw_shape": [H, W, C], "input_shape": [H, W, C]}``."""
        return {"steps": [dict(step) for step in self.steps], "raw_shape": list(self.raw_shape),
                "input_shape": list(self.input_shape)}

    def apply(self, x, training: bool = False, rng=None):
        """The steps on raw images ``x`` (N, H, W[, C]), as cnn_zoo.preprocess.apply."""
        return preprocess.apply(x, list(self.steps), training=training, rng=rng)

    def layer(self):
        """The evaluation-time steps as a Keras layer, so that a saved model can carry them."""
        from cnn_zoo.preprocess_layer import PreprocessingLayer  # Keras: the contract is read and checked without it

        return PreprocessingLayer(list(self.steps), list(self.raw_shape))
