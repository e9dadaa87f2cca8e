"""What ``model.fit`` is fed, for a run (:mod:`cnn_zoo.train`) and a tuning trial alike.

The recipe's training pipeline (seeded shuffle, augmentation) and validation
pipeline, with the labels repeated for every output of a model with
auxiliary outputs (the family's, see :class:`cnn_zoo.family.Family`).
"""

from __future__ import annotations

import keras

from cnn_zoo import registry, run_state
from cnn_zoo.cluster import distribute, shard
from cnn_zoo.data import make_pipeline


class RepeatLabels(keras.utils.PyDataset):
    """Batches whose labels go to every output of a multi-output model (auxiliary heads)."""

    def __init__(self, data, heads):
        super().__init__()
        self.data, self.heads = data, list(heads)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x, y = self.data[i]
        return x, {head: y for head in self.heads}

    def on_epoch_end(self):
        self.data.on_epoch_end()


def repeat_labels(data, names):
    """``data`` with its labels given to each output in ``names`` (a model's heads); None: as it is."""
    if not names or data is None:
        return data
    if hasattr(data, "map"):  # tf.data
        return data.map(lambda x, y: (x, {head: y for head in names}))
    return RepeatLabels(data, names)


def fit_inputs(recipe, splits, model, *, seed, skip_epochs: int = 0, cluster=None):
    """(training data, validation data or None) for ``model.fit``: what ``train`` and the
    tuner's trials feed. The training pipeline shuffles (seeded) and augments; its draws of
    the first ``skip_epochs`` epochs are replayed (a resumed run sees the batches an
    uninterrupted one would). With a ``cluster`` (:mod:`cnn_zoo.cluster`), this worker's share."""
    train_ds, val_ds, steps = splits["train"], splits.get("validation"), recipe.preprocessing
    heads = registry.get_family(recipe.model.name).outputs(model) if isinstance(model.output, dict) else None
    train_ds, batch_size = shard(train_ds, cluster, recipe.batch_size)
    if val_ds is not None:
        val_ds, _ = shard(val_ds, cluster, recipe.batch_size)
    fit_data = make_pipeline(train_ds.x, train_ds.y, batch_size, steps=steps, shuffle=True,
                             seed=seed, augment=True)
    run_state.replay_epochs(fit_data, skip_epochs)
    val_data = None if val_ds is None else make_pipeline(val_ds.x, val_ds.y, batch_size, steps=steps)
    return (distribute(repeat_labels(fit_data, heads), cluster, model),
            distribute(repeat_labels(val_data, heads), cluster))
