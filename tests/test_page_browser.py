"""zoo page in a real browser (Chromium through Playwright): every registered family's page loads
with no console error and no network request, its boxes are the model card's volumes, a click
opens a layer's detail; the playground answers as cnn_zoo.layers on random cases; a lenet5.mnist
page on a real MNIST digit shows zoo predict's top-1 and the receptive fields of its feature maps.

Every test opens pages through browser_fixtures.opened, which fails on any console error or any
request that is not file: or data:. Screenshots go to each test's tmp_path."""

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

import cnn_zoo as zoo
from cnn_zoo import registry
from cnn_zoo.card import card_for
from cnn_zoo.cli import main
from cnn_zoo.layers.arithmetic import ShapeError, explain_window, valid_paddings
from browser_fixtures import browser, opened  # noqa: F401
from data_fixtures import raw_mnist  # noqa: F401

pytestmark = pytest.mark.browser

BOXES = """() => [...document.querySelectorAll('.layer')].map(b => ({name: b.dataset.name, sub: !!b.dataset.sub,
  shape: b.querySelector('.shape').textContent, data: b.dataset.shape,
  px: b.querySelector('svg').dataset.px.split(',').map(Number)}))"""


def _nondecreasing(pairs):
    """(value, pixels) pairs: more value never gets fewer pixels."""
    pairs = sorted(pairs)
    return all(a[1] <= b[1] for a, b in zip(pairs, pairs[1:]))


def _detail(page, name):
    page.click(f'.layer[data-name="{name}"]')
    detail = page.locator("#detail")
    assert detail.is_visible() and detail.get_attribute("data-name") == name
    return {key: page.inner_text(f"#detail .{key}") for key in ("formula", "params", "macs", "rf", "shape")}


@pytest.mark.parametrize("name", registry.list_models())
def test_every_family_page_draws_its_card(browser, tmp_path, name):
    out = tmp_path / f"{name}.html"
    zoo.page(name, out=out)
    card = card_for(name)  # what `zoo info NAME` prints
    with opened(browser, out) as page:
        boxes = page.evaluate(BOXES)
        assert boxes[0]["name"] == "input" and boxes[0]["shape"] == "×".join(map(str, card.input_shape))
        top = [b for b in boxes[1:] if not b["sub"]]
        assert [b["name"] for b in top] == [r.name for r in card.rows]
        assert [b["shape"] for b in top] == ["×".join(map(str, r.output_shape)) for r in card.rows]
        assert [b["data"] for b in top] == [",".join(map(str, r.output_shape)) for r in card.rows]
        volumes = [(boxes[0], card.input_shape)] + [(b, r.output_shape) for b, r in zip(top, card.rows)
                                                    if len(r.output_shape) == 3]
        assert _nondecreasing([(shape[0], b["px"][1]) for b, shape in volumes])   # H: the face's height
        assert _nondecreasing([(shape[2], b["px"][2]) for b, shape in volumes])   # D: the depth
        for row in {card.rows[0], card.rows[len(card.rows) // 2], card.rows[-1]}:
            shown = _detail(page, row.name)
            assert shown["formula"] == (row.formula or "—")
            assert shown["shape"] == "×".join(map(str, row.output_shape))
            assert shown["params"].startswith(f"{row.weights + row.non_trainable:,} (")
            assert shown["macs"] == ("?" if row.multiply_adds is None else f"{row.multiply_adds:,}")
            if row.receptive_field:
                assert shown["rf"].startswith("×".join(str(f.size) for f in row.receptive_field) + " input cells")
        subs = [b for b in boxes if b["sub"]]
        if subs:  # a block's own branch: its detail opens too
            assert _detail(page, subs[0]["name"])["shape"] == subs[0]["shape"]
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)


def test_a_residual_graph_draws_its_shortcuts(browser, tmp_path):
    from test_page import _residual_model

    model = _residual_model()
    out = zoo.page(model, out=tmp_path / "residual.html").path
    with opened(browser, out, width=700) as page:
        blocks = page.locator(".block")
        assert blocks.count() == 2
        assert blocks.nth(0).locator(".identity").inner_text() == "identity (shortcut)"
        assert [n.get_attribute("data-name") for n in blocks.nth(1).locator(".branch .layer").all()] == ["b1", "proj"]
        assert page.inner_text('.layer[data-name="add2"] .shape') == "8×8×16"
        assert _detail(page, "add2")["shape"] == "8×8×16"
        page.screenshot(path=tmp_path / "residual.png", full_page=True)


# -- the playground against cnn_zoo.layers ---------------------------------------------------

EDGES = [  # formatting and error paths random numbers reach rarely
    dict(mode="conv", w1=10, h1=11, d1=1, k=1, f=1, s=8, p=0, rounding="floor"),    # 2.125: a tie, to even
    dict(mode="conv", w1=12, h1=14, d1=1, k=1, f=1, s=8, p=0, rounding="exact"),    # 2.375, 2.625
    dict(mode="pool", w1=302, h1=300, d1=1, k=1, f=1, s=300, p=0, rounding="ceil"),  # 2.00333 -> "2."
    dict(mode="conv", w1=32, h1=32, d1=3, k=6, f=5, s=3, p=1, rounding="exact"),    # the README's example
    dict(mode="conv", w1=32, h1=32, d1=3, k=6, f=4, s=2, p=0, rounding="exact"),    # odd: no P fits with S=2
    dict(mode="conv", w1=9, h1=9, d1=1, k=1, f=2, s=4, p=0, rounding="exact"),      # no P fits with S=4
    dict(mode="conv", w1=3, h1=3, d1=1, k=1, f=7, s=1, p=0, rounding="floor"),      # no whole window
    dict(mode="pool", w1=2, h1=2, d1=1, k=1, f=3, s=2, p=0, rounding="ceil"),       # ceil keeps it
    dict(mode="pool", w1=112, h1=112, d1=64, k=1, f=3, s=2, p=0, rounding="ceil"),  # GoogLeNet's pool1
    dict(mode="conv", w1=227, h1=227, d1=3, k=96, f=11, s=4, p=0, rounding="exact"),  # AlexNet's conv1
]


def _cases(n=600, seed=29):
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        big = rng.random() < 0.1
        cases.append(dict(
            mode=rng.choice(["conv", "pool"]), w1=rng.randint(1, 400 if big else 40),
            h1=rng.randint(1, 400 if big else 40), d1=rng.randint(1, 16), k=rng.randint(1, 64),
            f=rng.randint(1, 11), s=rng.randint(1, 300) if rng.random() < 0.05 else rng.randint(1, 6),
            p=rng.randint(0, 6), rounding=("floor", "ceil", "exact")[i % 3]))
    return cases + EDGES


def _python(c):
    """What cnn_zoo.layers says, as the playground shows it (zoo explain's text or the error)."""
    pool = c["mode"] == "pool"
    paddings = [valid_paddings(size, c["f"], c["s"]) for size in (c["w1"], c["h1"])]
    try:
        a = explain_window("max_pool" if pool else "conv", (c["w1"], c["h1"], c["d1"]), kernel_size=c["f"],
                           strides=c["s"], padding=c["p"], rounding=c["rounding"],
                           filters=None if pool else c["k"], name="pool" if pool else "conv")
    except ShapeError as error:
        return {"explain": "", "error": str(error), "shown_error": f"Error: {error}", "output": None,
                "paddings": paddings}
    return {"explain": str(a), "error": None, "shown_error": None, "output": list(a.output_shape),
            "paddings": paddings}


@pytest.fixture(scope="module")
def lenet_page(tmp_path_factory):
    return zoo.page("lenet5", out=tmp_path_factory.mktemp("page") / "lenet5.html").path


def test_playground_answers_as_cnn_zoo_layers_on_random_cases(browser, lenet_page):
    cases = _cases()
    with opened(browser, lenet_page) as page:
        shown = page.evaluate("cases => cases.map(c => window.zooPage.runCase(c))", cases)
    keys = ("explain", "error", "shown_error", "output", "paddings")
    wrong = [(c, {k: s[k] for k in keys}, _python(c)) for c, s in zip(cases, shown)
             if {k: s[k] for k in keys} != _python(c)]
    assert wrong == [], wrong[:3]
    errors = [s["error"] or "" for s in shown]
    assert len(cases) >= 500 and {c["rounding"] for c in cases} == {"floor", "ceil", "exact"}
    assert sum("is not a whole number; paddings that fit" in e for e in errors) >= 20
    assert sum("leaves no whole window" in e for e in errors) >= 10
    assert any("is odd and 2·P is even" in e for e in errors) and any("a multiple of 4" in e for e in errors)
    assert sum(s["output"] is not None for s in shown) >= 250
    conv = next(s for c, s in zip(cases, shown) if c["mode"] == "conv" and s["output"])
    assert "weights F·F·D1·K" in conv["summary"] and "biases K" in conv["summary"]


def _max_pool(grid, f, s, p, rounding):
    from cnn_zoo import layers

    x = np.asarray(grid, np.float32)[None, ..., None]                        # (1, H1, W1, 1)
    y = layers.MaxPool2D(f, strides=s, padding=p, rounding=rounding)(x)
    return np.asarray(y)[0, ..., 0]


def _pool_table(page):
    return np.array(json.loads(page.get_attribute("#pg-pool-table", "data-values")), np.float32)


def test_max_pool_reproduces_the_lecture_and_the_users_numbers(browser, lenet_page, tmp_path):
    with opened(browser, lenet_page, width=900) as page:
        page.click('[data-preset="pool"]')
        grid = [[float(v) for v in line.split()] for line in page.input_value("#pg-values").splitlines()]
        assert np.array(grid).shape == (6, 6)
        assert _pool_table(page).tolist() == [[6, 9], [8, 9]]
        assert (_pool_table(page) == _max_pool(grid, 3, 3, 0, "floor")).all()
        page.screenshot(path=tmp_path / "lecture-pool.png", full_page=True)
        mine = [[3, -1, 4, 1, 5, 9, 2], [6, 5, 3, 5, 8, 9, 7], [9, 3, 2, 3, 8, 4, 6],
                [2, 6, 4, 3, 3, 8, 3], [2, 7, 9, 5, 0, 2, 8]]
        page.fill("#pg-values", "\n".join(" ".join(map(str, row)) for row in mine))
        assert page.input_value("#pg-w1") == "7" and page.input_value("#pg-h1") == "5"
        page.fill("#pg-f", "3")
        page.fill("#pg-s", "2")
        page.fill("#pg-p", "1")
        page.select_option("#pg-rounding", "ceil")
        assert (_pool_table(page) == _max_pool(mine, 3, 2, 1, "ceil")).all()
        assert page.inner_text("#pg-explain").splitlines()[0] == "pool: 7×5×1 → 4×3×1"


# -- an image: zoo predict's top-1, receptive fields, filters ---------------------------------


@pytest.fixture(scope="module")
def digit_page(raw_mnist, tmp_path_factory):  # noqa: F811
    """A lenet5.mnist page, through the CLI, on the first MNIST test digit and on it resized."""
    from PIL import Image

    from cnn_zoo.data import load_splits

    folder = tmp_path_factory.mktemp("digit")
    test = load_splits(f"idx:{raw_mnist}")["test"]
    Image.fromarray(test.x[0].reshape(28, 28)).save(folder / "digit.png")
    Image.fromarray(test.x[1].reshape(28, 28)).resize((84, 60)).convert("RGB").save(folder / "wide.jpg")
    out = folder / "lenet5.mnist.html"
    result = CliRunner().invoke(main, ["page", "lenet5.mnist", "--image", str(folder / "digit.png"),
                                       "--image", str(folder / "wide.jpg"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, folder, int(test.y[0])


def test_the_page_shows_zoo_predicts_top1_on_a_real_digit(browser, digit_page):
    out, folder, label = digit_page
    predicted = CliRunner().invoke(main, ["predict", "lenet5.mnist", str(folder / "digit.png"), "--json"])
    top = json.loads(predicted.stdout)[0]["top"]
    with opened(browser, out) as page:
        assert page.get_attribute("#top5", "data-top1") == top[0]["label"]
        assert page.inner_text("#top5 tr:first-child td:first-child") == top[0]["label"]
        assert [page.get_attribute(f"#top5 tr:nth-child({i + 1})", "data-label") for i in range(5)] == \
            [t["label"] for t in top]
        assert "the tag's raw size" in page.inner_text("#image-note")
        page.select_option("#image-select", "1")
        assert "resized to 28×28" in page.inner_text("#image-note")
    assert top[0]["label"] == str(label)  # LeNet-5 reads the first test digit right


@pytest.mark.parametrize("layer, cell, rows, cols", [
    ("c1", (7, 15), (7, 11), (15, 19)),     # 5×5, jump 1
    ("s2", (3, 4), (6, 11), (8, 13)),       # 6×6, jump 2
    ("c3", (2, 5), (4, 17), (10, 23)),      # 14×14, jump 2
])
def test_a_click_on_a_feature_map_shows_its_receptive_field(browser, digit_page, tmp_path, layer, cell, rows, cols):
    out, _, _ = digit_page
    with opened(browser, out) as page:
        canvas = page.locator(f'.stage[data-name="{layer}"] canvas').nth(1)
        shown_w, shown_h = canvas.evaluate("c => [c.clientWidth, c.clientHeight]")  # inside its border
        h, w = int(canvas.get_attribute("height")), int(canvas.get_attribute("width"))
        y, x = cell
        canvas.click(position={"x": (x + 0.5) * shown_w / w, "y": (y + 0.5) * shown_h / h})
        field = page.locator("#rf-box")
        assert field.is_visible()
        assert [int(field.get_attribute(f"data-{k}")) for k in ("top", "bottom", "left", "right")] == [*rows, *cols]
        assert f"cell (row {y}, column {x})" in page.inner_text("#rf-text")
        page.click('.layer[data-name="c1"]')
        assert page.locator("#detail .filters canvas").count() == 6    # c1's six 5×5 filters
        page.screenshot(path=tmp_path / f"rf-{layer}.png", full_page=True)


def test_pages_fit_a_narrow_window(browser, digit_page, tmp_path):
    googlenet = zoo.page("googlenet", out=tmp_path / "googlenet.html").path
    for path in (googlenet, digit_page[0]):
        with opened(browser, path, width=390, height=800) as page:
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.click(".layer[data-sub]" if "googlenet" in path.name else '.layer[data-name="c3"]')
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=tmp_path / f"narrow-{path.stem}.png", full_page=True)
