"""The README's tuning example, end to end through the CLI: the shipped
convnet-fashion_mnist space (2 random trials of 1 epoch on 600 real Fashion-MNIST
images) ends in results.csv and the printed ranking, and --resume of the finished
search reports the same ranking without training again."""

import csv

import pytest
from click.testing import CliRunner

from cnn_zoo.cli import main
from data_fixtures import tfds_dir  # noqa: F401  (a fixture)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ranking(out):
    with open(out / "results.csv", newline="") as f:
        return [(row["rank"], row["trial"], row["status"], row["val_accuracy"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_shipped_space_ends_in_a_ranking_and_resumes(tmp_path, tfds_dir):  # noqa: F811
    out = tmp_path / "search"
    result = run("tune", "convnet-fashion_mnist", "--max-trials", 2, "--tuner", "random",
                 "--set", "search_space.epochs={choice: [1]}", "--set", "dataset.max_examples=600",
                 "--data-dir", tfds_dir, "--out", out)
    assert result.exit_code == 0, result.output
    rows = ranking(out)
    assert [(r[0], r[2]) for r in rows] == [("1", "completed"), ("2", "completed")]
    scores = [float(r[3]) for r in rows]
    assert scores[0] >= scores[1] and all(0.0 <= s <= 1.0 for s in scores)
    # The printed table is the same ranking: trial ids in the order of results.csv.
    assert "2 trials: 2 completed, 0 infeasible, 0 failed" in result.stdout
    table = result.stdout.split("rank  trial  val_accuracy")[1].splitlines()[1:3]
    assert [line.split()[:3] for line in table] == [[r[0], r[1], f"{float(r[3]):.4f}"] for r in rows]
    # The stored space knows the search's own input shape (28x28x1 Fashion-MNIST).
    from cnn_zoo.tune.space import SearchSpace

    assert SearchSpace.of_search(out).input_shape == (28, 28, 1)

    again = run("tune", "--resume", "--out", out, "--data-dir", tfds_dir)
    assert again.exit_code == 0, again.output
    assert "2 trials: 2 completed" in again.stdout and "rank  trial  val_accuracy" in again.stdout
    assert ranking(out) == rows  # nothing retrained, nothing lost
    assert sorted(p.name for p in (out / "search").glob("trial_*")) == ["trial_0", "trial_1"]
