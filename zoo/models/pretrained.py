"""A pretrained tag, declared beside its family: the one place its story is written.

A family module's tags live beside it, in ``<module>_weights.py``
(``cnn_zoo.models.lenet`` → ``cnn_zoo.models.lenet_weights``), as a ``TAGS``
tuple of :class:`Tag`, much as torchvision keeps ``Weights`` enums in each
model module and keras-hub a ``*_presets.py`` beside each model. A tag says:

- what it is: the builder arguments (``kwargs``), the class names and where they come from;
- where its weights come from and how they are checked: a file shipped in
  ``saved_models/`` (``sha256`` and ``size``: a tag trained here, by ``zoo
  publish``), or a publisher's file (``source``: URL, check, licence), converted
  on its first pull;
- how it scores and who says so (``metrics``, with ``measured_by`` and ``source``);
- how an image becomes its input (``preprocessing``);
- how it was made (``recipe``, ``seed``, ``dataset``, ``tuning``, versions).

``saved_models/manifest.json``, which the weights store reads, is generated
from these declarations (:mod:`cnn_zoo.hub.shipped`; a test checks it is
current). A declaration is plain data: this module imports only the standard
library and the families' table.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.resources
import importlib.util
import json
from typing import Mapping

from cnn_zoo.errors import ZooError
from cnn_zoo.models import FAMILIES

CLASS_NAMES_PACKAGE = "cnn_zoo.saved_models"
# What a tag's metrics must say besides the figures: the split and its size, who measured
# them and where the figures are written.
METRICS_STORY = ("split", "examples", "measured_by", "source")


@dataclasses.dataclass(frozen=True)
class ClassNames:
    """A tag's class names in class-index order, and where they come from.

    ``names`` inline, or ``file``: a JSON file in ``cnn_zoo.saved_models`` with a
    ``"class_names"`` list (ImageNet's 1,000).
    """

    source: str
    names: tuple = ()
    file: str | None = None

    def load(self) -> tuple[str, ...]:
        if self.file is None:
            return tuple(self.names)
        text = importlib.resources.files(CLASS_NAMES_PACKAGE).joinpath(self.file).read_text("utf-8")
        return tuple(json.loads(text)["class_names"])


@dataclasses.dataclass(frozen=True)
class Tag:
    """One pretrained tag (see the module docstring); the fields are its manifest entry's.

    ``recipe``: for a tag trained here, the run's resolved recipe as ``zoo
    publish`` recorded it; for a converted tag, the recipe that evaluates and
    fine-tunes it, written short and resolved with the recipe defaults when the
    manifest is generated. ``dataset``: the dataset card, or the source of a
    dataset whose card the store knows (``"tfds:mnist"``).
    """

    tag: str
    kwargs: Mapping
    class_names: ClassNames
    metrics: Mapping
    preprocessing: Mapping
    recipe: Mapping
    dataset: Mapping | str
    created: str
    keras_version: str
    sha256: str | None = None
    size: int | None = None
    source: Mapping | None = None
    seed: int = 0
    backend: str = ""
    tuning: Mapping | None = None

    def __post_init__(self):
        shipped = self.sha256 is not None and self.size is not None
        if shipped == (self.source is not None):
            raise ZooError(f"tag {self.tag!r}: declare either the shipped file (sha256 and size) or the "
                           "publisher's file it is converted from (source), not both or neither")
        missing = [key for key in METRICS_STORY if key not in self.metrics]
        if missing:
            raise ZooError(f"tag {self.tag!r}: its metrics lack {', '.join(missing)} (say who measured "
                           "them and where the figures are written)")
        if not {"num_classes", "input_shape"} <= set(self.kwargs):
            raise ZooError(f"tag {self.tag!r}: its kwargs lack input_shape or num_classes")

    @property
    def arch(self) -> str:
        return self.tag.split(".", 1)[0]


def weights_module(module: str) -> str:
    """The module that declares the tags of the families in ``module``."""
    return f"{module}_weights"


def declared() -> dict[str, Tag]:
    """Every tag the built-in families declare, sorted by tag.

    A ``<module>_weights`` module may declare only tags of its module's
    families; a tag declared twice is an error.
    """
    tags: dict[str, Tag] = {}
    for module in sorted({module for module, _ in FAMILIES.values()}):
        name = weights_module(module)
        if importlib.util.find_spec(name) is None:
            continue
        families = {family for family, (owner, _) in FAMILIES.items() if owner == module}
        for tag in importlib.import_module(name).TAGS:
            if tag.arch not in families:
                raise ZooError(f"{name} declares {tag.tag!r}, but {tag.arch!r} is not a family of {module} "
                               f"({', '.join(sorted(families))}): declare it beside its own family")
            if tag.tag in tags:
                raise ZooError(f"{name} declares {tag.tag!r} a second time")
            tags[tag.tag] = tag
    return dict(sorted(tags.items()))
