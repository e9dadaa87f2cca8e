"""What a model family is: the one object that train, tune and hub ask about a model.

A :class:`Family` owns what the rest of the zoo must not know by name: the
builder (keras.applications' signature), the head that fine-tuning rebuilds,
the output that predict and evaluate read, the training-only outputs and their
loss weights, the builder arguments that turn those off for inference, an
optional shape :class:`Planner` (the tuner rejects impossible K/F/S/P with it
before building), and the converters of publishers' weights. See
docs/architecture.md for a new family in ten lines.

This module imports no Keras; :meth:`Family.inference_model` imports it when called.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Callable, Mapping

from cnn_zoo.layers.arithmetic import ShapeError


class Planner:
    """A family's shape arithmetic, run on builder arguments before anything is built.

    ``arguments`` are the builder arguments that decide shapes (what the tuner's
    feasibility summary enumerates), ``defaults`` their values when a recipe
    leaves them out. :meth:`plan` raises :class:`ShapeError` for a shape that
    cannot exist (the search's business: the trial is skipped), or one of
    ``malformed`` for a value that is not well formed (a mistake in the space).
    """

    arguments: tuple = ()
    defaults: Mapping = {}
    malformed: tuple = ()

    @property
    def rejects(self) -> tuple:
        """What building may raise for arguments the plan should have refused."""
        return (ShapeError, *self.malformed)

    def plan(self, input_shape, kwargs: Mapping) -> int | None:
        """Multiply-adds per image of the model ``kwargs`` build on ``input_shape`` (None: unknown)."""
        raise NotImplementedError

    def lengths(self, kwargs: Mapping, path: tuple) -> int | None:
        """How many values the scalar argument at ``path`` (``("filters",)``, ``("filters", 1)``)
        stands for when a search indexes it (one per stage, per conv); None: it has no parts."""
        return None


@dataclasses.dataclass(frozen=True)
class Published:
    """A parameter count printed by a family's sources, which its builder must reproduce.

    ``params``: trainable parameters of the model the builder makes with its
    defaults updated by ``kwargs`` (frozen statistics such as batch norm's moving
    mean are buffers, not parameters, in every source); ``source``: where the
    number is printed (paper, table, or the publisher's metadata);
    ``rounded_to``: the unit the source rounds to (0.27M: 10,000). The
    conformance test (tests/test_families.py) checks every family that has one.
    """

    params: int
    source: str
    kwargs: Mapping = dataclasses.field(default_factory=dict)
    rounded_to: int = 1

    def matches(self, count: int) -> bool:
        """Whether ``count`` parameters print as this figure."""
        return round(count / self.rounded_to) * self.rounded_to == self.params


def _first_line(doc: str | None) -> str:
    lines = inspect.cleandoc(doc or "").splitlines()
    return lines[0] if lines else ""


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """One model family, registered once (see the module docstring).

    ``head``: the layers whose weights depend on ``num_classes`` (fine-tuning
    rebuilds them). ``output``: the main output layer, what predict reads (its
    activation tells probabilities from logits). ``aux_outputs``: training-only
    outputs with their loss weights; a model built with them has dict outputs.
    ``inference_kwargs``: builder arguments that leave the training-only
    outputs out, applied where the published ones set them.
    ``converters``: weights source → module of its layout (``cnn_zoo.convert``).
    ``published``: the :class:`Published` parameter count its sources print.
    ``test_kwargs``: builder arguments of a small model of the family (a small
    input, few classes), which the conformance test builds, trains a step,
    saves and reloads on every backend. ``notes``: builder arguments → lines the
    model card prints above its table (the pattern, what is new in the family).
    """

    name: str
    build: Callable
    summary: str = ""
    head: tuple = ("classifier",)
    output: str = "predictions"
    aux_outputs: Mapping = dataclasses.field(default_factory=dict)
    inference_kwargs: Mapping = dataclasses.field(default_factory=dict)
    planner: Planner | None = None
    converters: Mapping = dataclasses.field(default_factory=dict)
    published: Published | None = None
    test_kwargs: Mapping = dataclasses.field(default_factory=dict)
    notes: Callable | None = None

    def __post_init__(self):
        if not self.summary and self.build is not None:
            object.__setattr__(self, "summary", _first_line(self.build.__doc__))

    @property
    def module(self) -> str:
        return self.build.__module__

    def outputs(self, model) -> list[str]:
        """The model's outputs that training fits: the main one, then the auxiliary ones it has."""
        if not isinstance(model.output, dict):
            return [self.output]
        return [self.output, *(name for name in self.aux_outputs if name in model.output)]

    def loss_weights(self, model) -> dict | None:
        """``model.compile``'s loss weights: 1 for the main output, the family's for each
        auxiliary one; None for a model with one output."""
        if not isinstance(model.output, dict):
            return None
        return {name: float(self.aux_outputs.get(name, 1.0)) for name in self.outputs(model)}

    def main_output(self, y):
        """The main output of a model's result (a dict for a model with auxiliary outputs)."""
        return y[self.output] if isinstance(y, dict) else y

    def output_activation(self, model):
        """The activation of the main output layer, or None if it has none."""
        try:
            return getattr(model.get_layer(self.output), "activation", None)
        except ValueError:
            return None

    def fit_outputs(self, model) -> dict:
        """What training fits, per output of :meth:`outputs`: ``{name: (tensor, from_logits)}``.

        An output layer that is a softmax ``Activation`` (every builder's head,
        ``cnn_zoo.models.builder_parts.classifier``) is fitted on its input, the logits, with a
        cross-entropy from logits: from probabilities Keras clips at 1e-7 on JAX and
        PyTorch, and a confident wrong answer then has no gradient (TensorFlow quietly
        uses the logits it cached). A linear output is logits already; any other output
        (a Dense with a built-in softmax, a sigmoid) is fitted as it is, on probabilities.
        """
        import keras  # this module imports no Keras (zoo list); a model is built already here

        out = {}
        for name in self.outputs(model):
            tensor = model.output[name] if isinstance(model.output, dict) else model.output
            try:
                layer = model.get_layer(name)
            except ValueError:  # a bare model whose output is named otherwise
                layer = None
            if layer is not None and layer.output is not tensor:
                layer = None
            activation = getattr(layer, "activation", None)
            if isinstance(layer, keras.layers.Activation) and activation is keras.activations.softmax:
                out[name] = (layer.input, True)
            else:
                out[name] = (tensor, activation is keras.activations.linear)
        return out

    def inference_model(self, model):
        """The main output alone: what a model trained with auxiliary outputs runs at test time."""
        if not isinstance(model.output, dict):
            return model
        import keras  # this module imports no Keras (zoo list); a model is built already here

        return keras.Model(model.inputs, model.get_layer(self.output).output, name=model.name)

    def for_inference(self, kwargs: Mapping) -> dict:
        """Builder arguments with the training-only outputs turned off where ``kwargs`` set them."""
        return {**kwargs, **{k: v for k, v in self.inference_kwargs.items() if kwargs.get(k)}}

    def card_notes(self, kwargs: Mapping) -> tuple[str, ...]:
        """The lines a model card of this family built with ``kwargs`` prints above its table."""
        return () if self.notes is None else tuple(self.notes(dict(kwargs)))

    def converter(self, source: str):
        """The layout module that converts ``source``'s weights into this family, or None."""
        module = self.converters.get(source)
        return None if module is None else importlib.import_module(module)


def default_family(name: str, build: Callable, summary: str | None = None) -> Family:
    """A plain builder as a family: the head and outputs of ``cnn_zoo.models.builder_parts.classifier``."""
    return Family(name, build, summary or "")


#: What the zoo assumes of a model whose family is unknown (a bare Keras model): the defaults.
DEFAULT = Family("", None, "a model of no registered family")
