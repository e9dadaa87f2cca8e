"""zoo page without a browser: the data the page draws equal the model card, branches that join,
bad input (one Error: line, exit 2, nothing written), huge inputs without tensors.

The browser half (Chromium through Playwright) is tests/test_page_browser.py."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from keras import layers as K

import cnn_zoo as zoo
from cnn_zoo import hub
from cnn_zoo.card import card_for, model_card
from cnn_zoo.page import writer
from cnn_zoo.page.network import INPUT, layout, network
from cnn_zoo.page.request import MARK, PageError, check
from hub_fixtures import published, write_photos  # noqa: F401  (fixture)
from test_cli import assert_user_error, run  # the CLI's one-line error check, shared

TAG = "lenet5.mnist"


def page_data(html: str) -> dict:
    start = html.index('<script type="application/json" id="zoo-data">') + len('<script type="application/json" id="zoo-data">')
    return json.loads(html[start:html.index("</script>", start)])


# -- the layout: branches that join ------------------------------------------------------


def test_layout_of_a_chain_is_one_item_per_row():
    assert layout([[INPUT], [0], [1]]) == [{"row": 0}, {"row": 1}, {"row": 2}]


def test_layout_of_residual_blocks_has_an_identity_branch_and_a_projection_branch():
    # 0 conv, 1-2 the main path, 3 add(0, 2): identity; 4 conv, 5 projection of 3, 6 add(4, 5)
    parents = [[INPUT], [0], [1], [0, 2], [3], [3], [4, 5]]
    assert layout(parents) == [
        {"row": 0},
        {"row": 3, "branches": [[], [{"row": 1}, {"row": 2}]]},
        {"row": 6, "branches": [[{"row": 4}], [{"row": 5}]]},
    ]


def test_layout_nests_a_block_inside_a_branch():
    # 1..4 a branch that holds its own join (3 joins 1 and 2), 5 joins the input's path 0 and 4
    parents = [[INPUT], [0], [0], [1, 2], [3], [0, 4]]
    (stem, outer) = layout(parents)
    assert stem == {"row": 0}
    assert outer == {"row": 5, "branches": [[], [{"row": 3, "branches": [[{"row": 1}], [{"row": 2}]]}, {"row": 4}]]}


def _residual_model():
    """A ResNet-style net: an identity shortcut, then a projection shortcut; channels last."""
    inputs = keras.Input((16, 16, 8))
    x = K.Conv2D(8, 3, padding="same", name="stem")(inputs)                        # (B, 16, 16, 8)
    y = K.Conv2D(8, 3, padding="same", name="a1")(x)
    y = K.Conv2D(8, 3, padding="same", name="a2")(y)
    x = K.Add(name="add1")([x, y])                                                  # identity
    y = K.Conv2D(16, 3, strides=2, padding="same", name="b1")(x)                   # (B, 8, 8, 16)
    shortcut = K.Conv2D(16, 1, strides=2, name="proj")(x)
    x = K.Add(name="add2")([y, shortcut])                                           # projection
    outputs = K.Dense(3, name="out")(K.GlobalAveragePooling2D(name="gap")(x))
    return keras.Model(inputs, outputs, name="mini_resnet")


def test_residual_graph_is_drawn_as_branches_that_join_with_the_cards_rows():
    model = _residual_model()
    data, layers = network(model)
    names = [r["name"] for r in data["rows"]]
    assert names == [r.name for r in model_card(model).rows]
    by = {n: i for i, n in enumerate(names)}
    assert data["layout"] == [
        {"row": by["stem"]},
        {"row": by["add1"], "branches": [[], [{"row": by["a1"]}, {"row": by["a2"]}]]},
        {"row": by["add2"], "branches": [[{"row": by["b1"]}], [{"row": by["proj"]}]]},
        {"row": by["gap"]}, {"row": by["out"]},
    ]
    # 'same' padding 1 on a 3x3 conv: the first cell's field starts one cell before the input
    assert data["rows"][by["stem"]]["start"] == [-1, -1]
    assert data["rows"][by["b1"]]["window"]["strides"] == [2, 2]


# -- the page's data are the model card's ------------------------------------------------------


@pytest.fixture(scope="module")
def googlenet_data():
    model = zoo.get_model("googlenet")
    return network(model), model_card(model)


def test_googlenet_rows_are_the_cards_then_each_inception_branch_by_branch(googlenet_data):
    (data, layers), card = googlenet_data
    top = [r for r in data["rows"] if not r["sub"]]
    assert [{k: r[k] for k in ("name", "type", "output_shape", "formula", "weights", "multiply_adds")}
            for r in top] == [{**{k: d[k] for k in ("name", "type", "output_shape", "formula", "weights",
                                                    "multiply_adds")}} for d in card.as_dict()["rows"]]
    blocks = [item for item in data["layout"] if "branches" in item]
    inceptions = [r for r in card.rows if r.type == "Inception"]
    assert [data["rows"][b["row"]]["name"] for b in blocks] == [r.name for r in inceptions]
    first = blocks[0]
    assert [[data["rows"][i["row"]]["name"] for i in branch] for branch in first["branches"]] == [
        ["inception_3a/1x1"], ["inception_3a/3x3_reduce", "inception_3a/3x3"],
        ["inception_3a/5x5_reduce", "inception_3a/5x5"], ["inception_3a/pool", "inception_3a/pool_proj"]]
    subs = {r["name"]: r for r in data["rows"] if r["sub"]}
    # the branches' own arithmetic: 3x3 with P=1 keeps 28, depth K = 128; their weights add up to the block's
    assert subs["inception_3a/3x3"]["output_shape"] == [28, 28, 128]
    assert subs["inception_3a/3x3"]["window"]["padding"] == [[1, 1], [1, 1]]
    block = next(r for r in card.rows if r.name == "inception_3a")
    assert sum(r["weights"] for n, r in subs.items() if n.startswith("inception_3a/")) == block.weights
    assert data["rows"][0]["start"] == [-3, -3]  # conv1: 7x7/2, P = 3


def test_googlenet_bn_blocks_hold_their_batch_norms():
    data, _ = network(zoo.get_model("googlenet_bn"))
    names = [r["name"] for r in data["rows"] if r["sub"] and r["name"].startswith("inception_3a/")]
    assert names[:2] == ["inception_3a/1x1", "inception_3a/1x1_bn"]


def test_a_huge_input_is_drawn_from_shapes_only(tmp_path):
    started = time.perf_counter()
    written = zoo.page("lenet5", out=tmp_path / "huge.html", input_shape=(100000, 100000, 1))
    rows = page_data(written.path.read_text())["rows"]
    assert rows[0]["output_shape"] == [99996, 99996, 6]
    assert [r["output_shape"] for r in rows] == [
        list(r.output_shape) for r in card_for("lenet5", input_shape=(100000, 100000, 1)).rows]
    assert rows[0]["text"]["multiply_adds"] == "1,499,880,002,400"
    assert time.perf_counter() - started < 120  # a 10^10-value tensor would take minutes, or all memory


# -- a tag: provenance, version, filters, images ---------------------------------------------


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """A 28x28 digit-like stroke (PNG) and the same drawn larger, in colour, as a JPEG."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 13:16] = 255
    Image.fromarray(digit).save(folder / "one.png")
    Image.fromarray(digit).resize((90, 60)).convert("RGB").save(folder / "wide.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def test_a_tag_page_states_its_provenance_version_filters_and_what_it_sees(tmp_path, digit_files):
    written = zoo.page(TAG, images=[digit_files / "one.png", digit_files / "wide.jpg"],
                       out=tmp_path / "t.html", max_channels=4)
    html = written.path.read_text()
    assert html.startswith("<!doctype html>\n" + MARK)
    data = page_data(html)
    info = hub.info(TAG)
    assert data["version"]["cnn_zoo"] == zoo.__version__
    assert data["provenance"]["sha256"] == info.sha256 and data["provenance"]["metrics"] == info.metrics
    c1 = next(r for r in data["rows"] if r["name"] == "c1")
    assert data["filters"][str(c1["id"])]["shape"] == [5, 5, 1, 6]
    assert set(data["filters"]) >= {str(r["id"]) for r in data["rows"] if r["name"] in ("c1", "c3", "c5")}
    one, wide = data["images"]
    predicted = hub.predict(TAG, [digit_files / "one.png"])[0]
    assert [t["label"] for t in one["top"]] == list(predicted.labels)
    assert "the tag's raw size" in one["note"] and "resized to 28×28" in wide["note"]
    stages = {data["rows"][m["row"]]["name"]: m for m in one["maps"]}
    assert list(stages) == ["c1", "s2", "c3", "s4", "c5"]
    assert stages["c3"]["shape"] == [10, 10, 16] and stages["c3"]["shown"] == 4
    assert one["input"]["shape"] == [32, 32, 1]
    assert written.size == len(html.encode()) < 2_000_000


def test_a_loaded_model_draws_as_its_tag(tmp_path, digit_files):
    model = zoo.load(TAG)
    data = page_data(zoo.page(model, images=[digit_files / "one.png"], out=tmp_path / "m.html").path.read_text())
    assert data["model"]["kind"] == "loaded" and data["provenance"]["tag"] == TAG
    assert data["images"][0]["top"][0]["label"] == hub.predict(TAG, [digit_files / "one.png"])[0].labels[0]


def test_a_run_folder_page_resizes_a_photo_and_names_the_run(tmp_path, published):  # noqa: F811
    photo = write_photos(tmp_path / "photos", sizes=((480, 360),))[0]
    out = tmp_path / "run.html"
    result = run("page", str(published.run_dir), "--image", str(photo), "--out", str(out))
    assert result.exit_code == 0, result.output
    data = page_data(out.read_text())
    assert data["model"]["kind"] == "run" and data["provenance"]["kind"] == "run"
    assert data["provenance"]["sha256"] == hashlib.sha256((published.run_dir / "model.keras").read_bytes()).hexdigest()
    (view,) = data["images"]
    assert view["size"] == [480, 360] and "photo0.jpg is 480×360: resized to 28×28" in view["note"]
    assert view["top"][0]["label"] == hub.predict(str(published.run_dir), [photo])[0].labels[0]


def test_training_only_heads_are_left_out_as_predict_leaves_them(tmp_path, digit_files):
    info = hub.info("googlenet.imagenet")  # its preprocessing and labels; the weights here are random
    trained_with_aux = zoo.get_model("googlenet", **info.kwargs, aux_classifiers=True)
    trained_with_aux.zoo_info = info
    data = page_data(zoo.page(trained_with_aux, images=[digit_files / "one.png"], out=tmp_path / "g.html",
                              max_channels=1).path.read_text())
    plain = card_for("googlenet", **info.kwargs)
    assert [r["name"] for r in data["rows"] if not r["sub"]] == [r.name for r in plain.rows]
    assert not any(r["name"].startswith("aux") for r in data["rows"])
    conv1 = data["filters"][str(next(r["id"] for r in data["rows"] if r["name"] == "conv1"))]
    assert (conv1["shape"], conv1["rgb"], conv1["bgr"]) == ([7, 7, 3, 64], True, True)  # BVLC's BGR, drawn RGB
    kernel = np.asarray(trained_with_aux.get_layer("conv1").kernel)[:, :, ::-1, 0]   # its first filter, in RGB
    tile = np.frombuffer(base64.b64decode(conv1["data"]), np.uint8)[:7 * 7 * 3].reshape(7, 7, 3)
    assert (tile == np.round((kernel - kernel.min()) / np.ptp(kernel) * 255)).all()


def test_the_data_cannot_end_the_script_early():
    data = writer.page_data(check("lenet5", out="/tmp/unused.html"))
    data["model"]["name"] = "</script><script>alert(1)</script>{{DATA}}"
    html = writer.render(data)
    assert "<script>alert" not in html and html.count("</script>") == 2
    assert page_data(html)["model"]["name"] == data["model"]["name"]


# -- bad input: one line, exit 2, nothing written ---------------------------------------------


def test_cli_writes_a_page_and_reports_it(tmp_path, digit_files):
    out = tmp_path / "p.html"
    result = run("page", TAG, "--image", str(digit_files / "one.png"), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {"path": str(out), "size": out.stat().st_size, "rows": 10, "images": 1}


@pytest.mark.parametrize("args, fragments", [
    (["lenet6"], ["Unknown model 'lenet6'", "Did you mean 'lenet5'"]),
    (["lenet5.nope"], ["Unknown pretrained tag 'lenet5.nope'"]),
    (["lenet5", "--image", "IMAGES/one.png"], ["need trained weights", "pretrained tag"]),
    ([TAG, "--image", "IMAGES/broken.png"], ["broken.png", "not an image Pillow can read"]),
    ([TAG, "--image", "IMAGES/missing.png"], ["missing.png: no such file"]),
    ([TAG, "--input-shape", "64,64,1"], ["--input-shape is for a model name"]),
    (["lenet5", "--out", "/proc/zoo-page.html"], ["cannot write /proc/zoo-page.html"]),
    (["lenet5", "--out", "TMP/no/such/folder/p.html"], ["does not exist; create it first"]),
    (["lenet5", "--out", "TMP"], ["is a directory"]),
])
def test_bad_input_is_one_error_line_and_no_page(tmp_path, digit_files, args, fragments):
    args = [a.replace("IMAGES", str(digit_files)).replace("TMP", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "p.html")]
    assert_user_error(run("page", *args), *(f.replace("TMP", str(tmp_path)) for f in fragments))
    assert list(tmp_path.iterdir()) == []


def test_a_file_zoo_page_did_not_write_is_never_replaced(tmp_path):
    precious = tmp_path / "notes.html"
    precious.write_text("<html>my notes</html>")
    assert_user_error(run("page", "lenet5", "--out", str(precious)), "is not a page that zoo page wrote")
    assert precious.read_text() == "<html>my notes</html>"


def test_a_failed_write_leaves_the_old_page_and_no_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "p.html"
    zoo.page("lenet5", out=out)
    before = out.read_bytes()

    def broken(data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "render", broken)
    with pytest.raises(OSError):
        zoo.page("lenet5", out=out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["p.html"]


def test_argument_errors_answer_before_tensorflow_is_imported(tmp_path, digit_files):
    code = (
        "import sys, json\nfrom cnn_zoo.cli import main\ncodes = []\n"
        f"for argv in {[['page', 'lenet6'], ['page', TAG, '--image', str(digit_files / 'broken.png')], ['page', 'lenet5', '--out', '/proc/x.html']]!r}:\n"
        "    try:\n        main(argv)\n    except SystemExit as e:\n        codes.append(e.code)\n"
        "print('RESULT', json.dumps([codes, [m for m in ('keras', 'tensorflow') if m in sys.modules]]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    codes, heavy = json.loads(out.stdout.splitlines()[-1][len("RESULT "):])
    assert codes == [2, 2, 2] and heavy == []
    assert out.stderr.count("Error: ") == 3


def test_bad_arguments_of_the_python_function():
    with pytest.raises(PageError, match="max_channels must be an int from 1 to 64"):
        check("lenet5", max_channels=0)
    with pytest.raises(PageError, match="input_shape must be positive ints"):
        check("lenet5", input_shape=(0, 32, 1))
    with pytest.raises(PageError, match="takes a model name, a pretrained tag"):
        check(42)


@pytest.mark.slow
def test_the_page_says_the_same_on_jax(tmp_path, digit_files):
    """The same page data on JAX as on TensorFlow: rows, layout, top-5, feature maps within a step."""
    args = dict(images=[str(digit_files / "one.png")], max_channels=4)
    here = page_data(zoo.page(TAG, out=tmp_path / "tf.html", **args).path.read_text())
    code = (f"import cnn_zoo as zoo\nzoo.page({TAG!r}, out={str(tmp_path / 'jax.html')!r}, **{args!r})\n"
            "import keras; print(keras.backend.backend())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0 and done.stdout.split()[-1] == "jax", done.stderr[-2000:]
    there = page_data((tmp_path / "jax.html").read_text())
    assert there["version"]["backend"] == "jax"
    assert there["rows"] == here["rows"] and there["layout"] == here["layout"]
    assert [t["label"] for t in there["images"][0]["top"]] == [t["label"] for t in here["images"][0]["top"]]
    for a, b in zip(here["images"][0]["maps"], there["images"][0]["maps"]):
        x, y = (np.frombuffer(base64.b64decode(m["data"]), np.uint8).astype(int) for m in (a, b))
        assert np.abs(x - y).max() <= 2  # one uint8 step of rounding, either way
