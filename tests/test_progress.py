"""The training progress callback (cnn_zoo.progress): a bar that never counts past its total,
and one plain line per epoch when the output is not a terminal."""

import io


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit(progress, epochs=2, steps_per_execution=4):
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    x, y = np.zeros((10, 3), "float32"), np.zeros((10,), "int32")
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(progress.seen)

    model.fit(x, y, batch_size=1, epochs=epochs, callbacks=[progress, Spy()])
    return seen


def test_progress_never_counts_past_the_epochs_steps():
    from cnn_zoo.progress import TrainingProgress

    # 10 steps in calls of 4: Keras reports the last step of each call (3, 7, 11).
    progress = TrainingProgress(stream=_Terminal())
    seen = _fit(progress, epochs=1)
    assert seen == [4, 8, 10]


def test_progress_off_a_terminal_is_one_plain_line_per_epoch(capsys):
    from cnn_zoo.progress import TrainingProgress

    stream = io.StringIO()
    _fit(TrainingProgress(stream=stream), epochs=3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {i}/3: 10 steps, ") and "loss " in line and "accuracy " in line
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()
    assert capsys.readouterr().out == ""  # and no Keras bar beside it
