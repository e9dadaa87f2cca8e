"""The ImageNet recipes start and run a few steps on a synthetic ImageNet-layout folder
(train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, photos of varying size), streamed."""

import json

import pytest

from cnn_zoo.recipe import load_recipe
from cnn_zoo.train import train
from imagefolders import write_folder


def test_googlenet_imagenet_is_the_papers_setup():
    r = load_recipe("googlenet-imagenet")
    assert (r.optimizer.name, r.optimizer.kwargs["momentum"]) == ("sgd", 0.9)
    assert (r.schedule.name, r.schedule.decay_epochs, r.schedule.decay_rate) == ("step", 8, 0.96)
    assert r.schedule.learning_rate(1.0, 16, r.epochs) == pytest.approx(0.96 ** 2)
    assert r.model.kwargs["aux_classifiers"] is True
    crop = r.preprocessing[0]["random_resized_crop"]
    assert crop["scale"] == [0.08, 1.0] and crop["ratio"] == pytest.approx([3 / 4, 4 / 3])
    t = load_recipe("googlenet_bn-imagenet")
    assert (t.optimizer.learning_rate, t.batch_size, t.epochs, t.schedule.decay_epochs) == (0.1, 256, 90, 30)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["googlenet-imagenet", "googlenet_bn-imagenet"])
def test_imagenet_recipe_runs_a_few_steps(tmp_path, recipe):
    root = write_folder(tmp_path / "imagenet", classes=3, per_class=4, size=(120, 160))
    result = train(recipe, tmp_path / "run", verbose=0, overrides=[
        f"dataset.source=folder:{root}", "epochs=1", "batch_size=4"])
    assert result.status == "finished", result.message
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["input"]["train"]["streamed"] is True  # sizes vary: streamed
    assert manifest["examples"] == {"train": 12, "test": 12}
    assert 0 <= result.metrics["accuracy"] <= 1
