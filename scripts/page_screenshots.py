"""The README's two pictures of `zoo page`, remade: docs/img/page-network.png and docs/img/page-image.png.

- page-network.png: GoogLeNet's page, its first inception block's branches side by side above their
  concatenation, the detail of the block's 3×3 branch open;
- page-image.png: the lenet5.mnist page on the first MNIST test digit (got through the data layer, as
  the tests get it: the official files, or the ZOO_TFDS_RAW_DIR mirror), the top-5 and the receptive
  field of one c3 cell drawn on the input.

    python scripts/page_screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def first_test_digit(folder: Path) -> Path:
    from PIL import Image

    from cnn_zoo.data import fetch_raw_files, load_splits

    test = load_splits(f"idx:{fetch_raw_files('mnist')}")["test"]
    path = folder / "digit.png"
    Image.fromarray(test.x[0].reshape(28, 28)).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img")
    args = parser.parse_args()
    import cnn_zoo as zoo
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="page-shots-"))
    network = zoo.page("googlenet", out=folder / "googlenet.html").path
    image = zoo.page("lenet5.mnist", images=[first_test_digit(folder)], out=folder / "lenet5.mnist.html").path
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 860})
        page.goto(network.as_uri())
        page.wait_for_function("window.zooPage && window.zooPage.ready")
        page.click('.layer[data-name="inception_3a/3x3"]')
        page.locator('[data-block="inception_3a"]').scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -60)")
        page.screenshot(path=args.out / "page-network.png")
        page.goto(image.as_uri())
        page.wait_for_function("window.zooPage && window.zooPage.ready")
        canvas = page.locator('.stage[data-name="c3"] canvas').nth(3)
        size = canvas.evaluate("c => [c.clientWidth, c.clientHeight]")
        canvas.click(position={"x": 5.5 * size[0] / 10, "y": 2.5 * size[1] / 10})
        page.locator("#image").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('image').scrollIntoView()")
        page.screenshot(path=args.out / "page-image.png")
        browser.close()
    print(args.out / "page-network.png", args.out / "page-image.png")


if __name__ == "__main__":
    main()
