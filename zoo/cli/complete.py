"""Shell completion of recipe, model and tag names (click's shell_complete).

Enable it once per shell, e.g. for bash: ``eval "$(_ZOO_COMPLETE=bash_source zoo)"``
(zsh: zsh_source, fish: fish_source). Nothing here imports Keras: a TAB must be instant.
"""

from __future__ import annotations

from click.shell_completion import CompletionItem


def _items(names, incomplete: str):
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def model_names(ctx=None, param=None, incomplete: str = ""):
    from cnn_zoo import registry  # a TAB must be instant: each completer imports what it reads

    return _items(registry.list_models(), incomplete)


def tag_names(ctx=None, param=None, incomplete: str = ""):
    from cnn_zoo.hub import available  # idem

    try:
        return _items(available(), incomplete)
    except Exception:  # a broken cache manifest must not break the shell
        return []


def recipe_names(ctx=None, param=None, incomplete: str = ""):
    """Shipped recipe names, and files (a recipe may be any YAML path)."""
    from cnn_zoo.recipe import list_recipes  # idem

    return _items([name for name, _ in list_recipes()], incomplete) + [CompletionItem(incomplete, type="file")]


def model_or_tag_names(ctx=None, param=None, incomplete: str = ""):
    return model_names(incomplete=incomplete) + tag_names(incomplete=incomplete)


def tag_or_run(ctx=None, param=None, incomplete: str = ""):
    """A pretrained tag or a run folder."""
    return tag_names(incomplete=incomplete) + [CompletionItem(incomplete, type="dir")]
