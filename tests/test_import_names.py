"""The installed import names survive a user's own layers.py, zoo.py, recipes.py beside their script."""

import subprocess
import sys


def test_user_files_named_like_the_folders_do_not_shadow_the_package(tmp_path):
    for name in ("layers", "zoo", "recipes", "saved_models"):
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('the user\\'s own {name}.py was imported')\n")
    code = ("import cnn_zoo as zoo\n"
            "model = zoo.get_model('lenet5')\n"
            "from cnn_zoo.recipe import list_recipes\n"
            "assert any(name == 'default' for name, _ in list_recipes())\n"
            "print(model.count_params())\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1].isdigit()
