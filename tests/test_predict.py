"""Prediction and pictures: images of any size and mode → the model's input → top-k; zoo show.

Uses the small real published model of hub_fixtures and sample photos that
hub_fixtures.write_photos makes.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from hub_fixtures import TAG, hub_for, published, write_photos  # noqa: F401  (fixture)
from cnn_zoo import preprocess
from cnn_zoo.cli import main
from cnn_zoo.hub.prediction import ImageError, Prediction, predict, read_image

RAW = (28, 28, 1)


def _save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture
def model(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import load

    return load(TAG, hub=hub_for(tmp_path, published))


# ----------------------------------------------------------------------- read_image


def test_modes_and_sizes_become_the_raw_input(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(53, 37), dtype=np.uint8)
    images = {
        "L.png": Image.fromarray(grey),
        "RGB.jpg": Image.fromarray(np.stack([grey] * 3, -1)),
        "RGBA.png": Image.fromarray(np.dstack([np.stack([grey] * 3, -1), np.full_like(grey, 255)])),
        "P.png": Image.fromarray(grey).convert("P"),
        "LA.png": Image.fromarray(grey).convert("LA"),
        "1.png": Image.fromarray(grey > 127),
        "I16.png": Image.fromarray(grey.astype(np.uint16) * 257),
        "CMYK.jpg": Image.fromarray(np.stack([grey] * 3, -1)).convert("CMYK"),
        "F.tiff": Image.fromarray(grey.astype(np.float32) / 255),
    }
    expected = np.asarray(Image.fromarray(grey).resize((28, 28), Image.Resampling.BILINEAR), np.float64)
    for name, image in images.items():
        x = read_image(_save(image, tmp_path / name), RAW)
        assert x.shape == RAW and x.dtype == np.uint8, name
        error = np.abs(x[..., 0] - expected).mean()
        limit = {"1.png": 60, "CMYK.jpg": 20, "RGB.jpg": 6, "P.png": 6}.get(name, 1)
        assert error < limit, (name, error)
    rgb = read_image(tmp_path / "L.png", (32, 32, 3))
    assert rgb.shape == (32, 32, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 32896, 65535]], np.uint16).repeat(3, 0)  # 0, 50%, 100%
    x = read_image(_save(Image.fromarray(levels), tmp_path / "16.png"), (3, 3, 1))[..., 0]
    assert Image.open(tmp_path / "16.png").mode.startswith("I")
    np.testing.assert_array_equal(x[0], [0, 128, 255])


def test_transparency_reads_as_black_background(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (255, 255, 255, 255)   # an opaque white square on a transparent field
    rgba[:5, :, :3] = 255                    # white but fully transparent: background
    x = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), (20, 20, 1))[..., 0]
    assert x[5:15, 5:15].min() == 255 and x[:5].max() == 0 and x[15:].max() == 0
    rgb = rgba[..., :3].copy()
    rgb[:5] = (255, 0, 0)                     # red, the palette's transparent colour
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=3)
    red = int(np.asarray(palette)[0, 0])
    x = read_image(_save(palette, tmp_path / "p.png", transparency=red), (20, 20, 1))[..., 0]
    assert x[:5].max() == 0 and x[5:15, 5:15].min() == 255


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40), np.uint8)
    stored[:, :20] = 255                     # left half white, as stored
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6                         # display rotated 90° clockwise
    path = _save(image, tmp_path / "rot.jpg", exif=exif, quality=95)
    x = read_image(path, (40, 20, 1))[..., 0]  # displayed: 20 wide, 40 tall, white on top
    assert x[:18].mean() > 230 and x[22:].mean() < 25


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_text("not an image"), "not an image Pillow can read"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30), "not an image Pillow can read"),
    (lambda p: p.write_bytes(write_photos(p.parent / "photos")[0].read_bytes()[:3000]),
     "unreadable image data"),
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "no such file"),
])
def test_unreadable_images_get_one_clear_line(tmp_path, make, fragment):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageError) as error:
        read_image(path, RAW)
    message = str(error.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message


def test_unsuitable_raw_shape():
    with pytest.raises(ImageError, match="grey \\(1\\) and RGB \\(3\\)"):
        read_image(Image.new("RGB", (4, 4)), (28, 28, 4))


# ----------------------------------------------------------------------- predict


def test_predict_matches_the_manual_pipeline(model, photos, tmp_path):
    odd = _save(Image.new("RGBA", (301, 17), (10, 200, 30, 128)), tmp_path / "odd.png")
    images = [*photos, odd]
    results = predict(model, images, top_k=3)
    info = model.zoo_info
    x = preprocess.apply(np.stack([read_image(p, info.preprocessing["raw_shape"]) for p in images]),
                         info.preprocessing["steps"], training=False)
    probs = model.predict(x, verbose=0)
    assert [r.image for r in results] == [str(p) for p in images]
    for r, row in zip(results, probs):
        assert r.error is None and len(r.labels) == 3
        best = np.argsort(-row, kind="stable")[:3]
        assert r.indices == tuple(best) and r.labels == tuple(info.class_names[i] for i in best)
        np.testing.assert_allclose(r.probabilities, row[best], rtol=1e-5)
        assert list(r.probabilities) == sorted(r.probabilities, reverse=True)
    assert len(predict(model, photos[0], top_k=50)[0].labels) == 10  # capped at the class count


def test_predict_keeps_going_past_a_bad_image(model, photos, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("garbage")
    results = predict(model, [photos[0], bad, photos[1]], on_error="keep")
    assert [r.error is None for r in results] == [True, False, True]
    assert "not an image" in results[1].error and results[1].labels == ()
    assert results[0].as_dict()["top"][0]["label"] == results[0].labels[0]
    with pytest.raises(ImageError, match="bad.jpg"):
        predict(model, [photos[0], bad])
    with pytest.raises(ValueError, match="top_k"):
        predict(model, photos[0], top_k=0)


def test_predict_from_a_tag_an_array_and_a_bare_model(tmp_path, published, model):  # noqa: F811
    from cnn_zoo import get_model

    digit = np.zeros((28, 28), np.uint8)
    by_tag = predict(TAG, [digit], hub=hub_for(tmp_path, published))
    assert by_tag[0].image == "<image 0>" and by_tag[0].labels == predict(model, digit)[0].labels
    bare = get_model("lenet5_modern", input_shape=(32, 32, 1))
    bare.set_weights(model.get_weights())
    with pytest.raises(ValueError, match="preprocessing="):
        predict(bare, [digit])
    named = predict(bare, [digit], preprocessing=model.zoo_info.preprocessing,
                    class_names="abcdefghij")
    assert named[0].indices == by_tag[0].indices and named[0].labels[0] in "abcdefghij"
    logits = get_model("lenet5_modern", input_shape=(32, 32, 1), classifier_activation=None)
    logits.set_weights(model.get_weights())
    got = predict(logits, [digit], preprocessing=model.zoo_info.preprocessing)[0]
    assert got.indices == by_tag[0].indices  # softmax applied to logits
    np.testing.assert_allclose(got.probabilities, by_tag[0].probabilities, rtol=1e-4)


def test_predict_in_chunks_equals_the_model_without_model_predict(model, monkeypatch):
    from cnn_zoo.hub import engine

    assert engine.batch_size_for((32, 32, 1)) == 1024
    assert engine.batch_size_for((224, 224, 3)) == 64  # GoogLeNet: as model.predict's batch before
    assert engine.batch_size_for((64, 64, 3)) == 2 ** 23 // (64 * 64 * 3)
    monkeypatch.setattr(engine, "MAX_BATCH_VALUES", 1)  # 64 images a call: chunks of 64, 64, 22
    # model.predict sets up a data pipeline per call (~50 ms for one image): prediction calls
    # the model's traced step instead, and must not fall back to it.
    monkeypatch.setattr(model, "predict", lambda *a, **k: pytest.fail("model.predict was called"))
    raw = np.random.default_rng(0).integers(0, 256, size=(150, 28, 28), dtype=np.uint8)
    results = predict(model, list(raw), top_k=10)
    x = preprocess.apply(raw, model.zoo_info.preprocessing["steps"], training=False)
    expected = np.asarray(model(x, training=False))
    got = np.zeros_like(expected)
    for row, r in zip(got, results):
        row[list(r.indices)] = r.probabilities
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_fine_tuned_model_predicts_class_indices(tmp_path, published):  # noqa: F811
    from cnn_zoo.hub import load

    with pytest.warns(UserWarning, match="rebuilt the head"):
        tuned = load(TAG, num_classes=3, hub=hub_for(tmp_path, published))
    result = predict(tuned, [np.zeros((28, 28), np.uint8)])[0]
    assert sorted(result.labels) == ["0", "1", "2"]
    assert sum(result.probabilities) == pytest.approx(1, abs=1e-5)


def test_prediction_text():
    p = Prediction("a.png", ("7", "1"), (7, 1), (0.91234, 0.05))
    assert str(p) == "a.png: 7 (91.2%), 1 (5.0%)"
    assert str(Prediction("b.png", error="b.png: no such file")) == "b.png: error: b.png: no such file"


# ----------------------------------------------------------------------- show


def test_show_draws_filters_and_feature_maps(model, photos, tmp_path):
    from cnn_zoo.hub import show
    from cnn_zoo.hub.pictures import feature_layers, filter_tiles

    assert [layer.name for layer in feature_layers(model)] == ["c1", "s2", "c3", "s4", "c5"]
    tiles = filter_tiles(model.get_layer("c1").get_weights()[0])
    assert len(tiles) == 6 and all(t.shape == (5, 5) and t.min() == 0 and t.max() == 1 for t in tiles)
    only = show(model, out_dir=tmp_path / "filters")
    assert [p.name for p in only] == ["filters_c1.png"]
    files = show(model, photos[0], tmp_path / "maps", max_maps=4)
    assert [p.name for p in files] == ["filters_c1.png", "input.png", "maps_01_c1.png",
                                       "maps_02_s2.png", "maps_03_c3.png", "maps_04_s4.png",
                                       "maps_05_c5.png"]
    for path in files:
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 50


def test_a_bgr_models_filters_are_drawn_in_rgb_order(tmp_path):
    """googlenet.imagenet's conv1 kernel is BGR (Caffe): a filter that sees only blue draws blue."""
    from cnn_zoo.weights import store
    from cnn_zoo.hub.pictures import filter_tiles, rgb_kernel

    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[1, 1, 0, 0] = 1.0  # BGR channel 0: blue
    kernel[1, 1, 2, 1] = 1.0  # BGR channel 2: red
    tiles = filter_tiles(rgb_kernel(kernel, store.info("googlenet.imagenet").preprocessing["steps"]))
    assert tiles[0][1, 1].tolist() == [0.0, 0.0, 1.0] and tiles[1][1, 1].tolist() == [1.0, 0.0, 0.0]
    rgb = filter_tiles(rgb_kernel(kernel, store.info("googlenet_bn.imagenet").preprocessing["steps"]))
    assert rgb[0][1, 1].tolist() == [1.0, 0.0, 0.0]  # an RGB model's kernel drawn as it is


# ----------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(tmp_path, published, monkeypatch):  # noqa: F811
    """The CLI pulls the published tag over file:// into an empty cache."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZOO_HUB_URL", published.dest.as_uri())
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_predict(cli_env, photos, tmp_path):
    result = _cli("predict", TAG, photos[0], photos[1], "--top-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(photos[0]), str(photos[1])]
    assert all(line.count("%") == 2 for line in lines)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"broken")
    result = _cli("predict", TAG, photos[0], bad, "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert len(data) == 2 and len(data[0]["top"]) == 5 and "not an image" in data[1]["error"]
    assert result.stderr.splitlines() == [f"Error: {data[1]['error']}"]
    result = _cli("predict", TAG, bad, tmp_path / "missing.jpg")
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 2 and "no such file" in result.stderr
    result = _cli("predict", "lenet5_modern.nope", photos[0])
    assert result.exit_code == 2 and result.stderr.startswith("Error: Unknown pretrained tag")


def test_cli_show(cli_env, photos, tmp_path):
    result = _cli("show", TAG, photos[0], "--out", tmp_path / "out", "--max-maps", "2")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 7
    assert all((tmp_path / "out" / name).is_file() for name in ("filters_c1.png", "maps_05_c5.png"))
    result = _cli("show", TAG, "--out", tmp_path / "filters")
    assert result.exit_code == 0 and result.stdout.strip().endswith("filters_c1.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(io.BytesIO(b"junk").getvalue())
    result = _cli("show", TAG, bad, "--out", tmp_path / "x")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Error: {bad}: not an image")


# ----------------------------------------------------------------------- files a user can give


class _Rescuer:
    """Opens ``fifo`` for writing once a reader waits on it, so that a reader stuck in open()
    (a reader that opens a FIFO waits forever) gets EOF and the test fails instead of hanging."""

    def __init__(self, fifo, after=5.0):
        import threading

        self.fifo, self.after, self.rescued = fifo, after, False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import os
        import time

        deadline = time.monotonic() + self.after
        while not self.stop.wait(0.05):
            if time.monotonic() < deadline:
                continue
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader
            except OSError:
                continue
            self.rescued = True
            os.close(fd)
            return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "image.png"
    os.mkfifo(fifo)
    with _Rescuer(fifo) as rescuer, pytest.raises(ImageError) as error:
        read_image(fifo, RAW)
    assert not rescuer.rescued, "read_image waited on the named pipe until a writer came"
    assert str(error.value) == (f"{fifo}: not a regular file (a named pipe, socket or device); "
                                "give the path of an image file")


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are POSIX")
def test_cli_predict_on_a_named_pipe(cli_env, tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    good = _save(Image.new("L", (28, 28), 255), tmp_path / "white.png")
    with _Rescuer(fifo, after=20) as rescuer:
        result = _cli("predict", TAG, fifo, good)
    assert not rescuer.rescued, "zoo predict waited on the named pipe until a writer came"
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if not line.endswith(" s")]  # not the download line
    assert errors == [f"Error: {fifo}: not a regular file (a named pipe, socket or device); give the "
                      "path of an image file"]
    assert result.stdout.startswith(f"{good}: ")  # the other image is still predicted


def test_show_into_a_folder_that_cannot_be_made(model, tmp_path):
    from cnn_zoo.errors import ZooError
    from cnn_zoo.hub import show

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "pictures"):
        with pytest.raises(ZooError) as error:
            show(model, out_dir=out)
        message = str(error.value)
        assert message.startswith(f"cannot write the pictures into {out}: ") and "\n" not in message
        assert "pass --out (out_dir=) a folder you can write" in message
    assert blocker.read_text() == "not a folder"  # nothing on disk is lost


def test_cli_show_unwritable_out(cli_env, tmp_path):
    import os

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _cli("show", TAG, "--out", blocker / "pictures")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: cannot write the pictures into {blocker / 'pictures'}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    locked = tmp_path / "read-only"
    locked.mkdir(mode=0o555)
    if os.access(locked, os.W_OK):
        return  # root writes into a 0555 folder: the file case above is the one that applies
    result = _cli("show", TAG, "--out", locked)
    assert result.exit_code == 2 and "Permission denied" in result.stderr, result.output
