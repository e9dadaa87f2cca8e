"""The model registry: names, patterns, errors with suggestions, the lazily imported catalogue."""

import importlib
import inspect
import sys
import textwrap
import uuid

import pytest

import cnn_zoo as zoo
from cnn_zoo import errors, registry
from cnn_zoo.models import FAMILIES

COMMON_ARGUMENTS = ("input_shape", "num_classes", "include_top", "pooling",
                    "classifier_activation", "weights", "name")


def _builder(name="tiny", doc="A tiny test model."):
    """A builder with the common signature that returns its arguments (no Keras needed)."""
    def build(*, input_shape=None, num_classes=10, include_top=True, pooling=None,
              classifier_activation="softmax", weights=None, name=name):
        return {"input_shape": input_shape, "num_classes": num_classes, "name": name}
    build.__name__ = build.__qualname__ = name
    build.__doc__ = doc
    return build


def _write_family(tmp_path, monkeypatch, body):
    """A throwaway model module on sys.path; returns its (unique) module name."""
    module = f"fake_family_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from cnn_zoo.registry import register_model\n" + textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


# -- registering -------------------------------------------------------------


def test_register_and_get(fresh_registry):
    zoo.register_model(_builder("tiny"))
    assert zoo.get_model("tiny", num_classes=3) == {"input_shape": None, "num_classes": 3,
                                                    "name": "tiny"}
    assert zoo.get_builder("tiny").__name__ == "tiny"


def test_decorator_with_arguments_names_and_summarises(fresh_registry):
    @zoo.register_model(name="other_name", summary="Explicit summary")
    def tiny(*, num_classes=10):
        """Docstring summary."""

    assert zoo.list_models() == ["other_name"]
    assert [i.summary for i in zoo.describe_models()] == ["Explicit summary"]
    assert tiny.__name__ == "tiny"  # the decorator returns the function itself


def test_summary_defaults_to_first_docstring_line(fresh_registry):
    zoo.register_model(_builder("tiny", doc="\n    First line.\n\n    More text.\n"))
    (info,) = zoo.describe_models()
    assert info.summary == "First line."
    assert info.as_dict() == {"name": "tiny", "summary": "First line.",
                              "module": __name__, "pretrained": []}


def test_duplicate_name_is_an_error(fresh_registry):
    zoo.register_model(_builder("tiny"))

    def tiny(*, num_classes=10):
        pass

    with pytest.raises(ValueError, match="already registered") as caught:
        zoo.register_model(tiny, name="tiny")
    assert isinstance(caught.value, errors.DuplicateModelError)


def test_registering_the_same_definition_again_replaces_it(fresh_registry):
    first, again = _builder("tiny"), _builder("tiny")  # same module and qualname: a reload
    zoo.register_model(first)
    zoo.register_model(again)
    assert zoo.get_builder("tiny") is again


def test_catalogued_name_belongs_to_its_module(monkeypatch):
    reg = registry.Registry(catalog={"lenet5": ("cnn_zoo.models.lenet", "LeNet")})
    with pytest.raises(errors.DuplicateModelError, match="cnn_zoo.models.lenet"):
        reg.register(_builder("lenet5"))


# -- listing -----------------------------------------------------------------


def test_list_is_sorted_and_filtered_by_fnmatch(fresh_registry):
    for name in ("b_net", "a_net_small", "a_net", "c_other"):
        zoo.register_model(_builder(name))
    assert zoo.list_models() == ["a_net", "a_net_small", "b_net", "c_other"]
    assert zoo.list_models("a_*") == ["a_net", "a_net_small"]
    assert zoo.list_models("*_net") == ["a_net", "b_net"]
    assert zoo.list_models("?_net*") == ["a_net", "a_net_small", "b_net"]
    assert zoo.list_models(["c*", "b*"]) == ["b_net", "c_other"]
    assert zoo.list_models("A_NET") == ["a_net"]  # case-insensitive
    assert zoo.list_models("nothing*") == []


def test_builtin_models_are_listed_without_importing_them():
    before = set(sys.modules)
    assert zoo.list_models("lenet*") == ["lenet5", "lenet5_modern"]
    assert zoo.list_models() == sorted(FAMILIES)
    assert {i.name: i.summary for i in zoo.describe_models()} == \
        {name: summary for name, (_, summary) in FAMILIES.items()}
    assert not {module for module, _ in FAMILIES.values()} & (set(sys.modules) - before)


def test_pretrained_filter_asks_the_hook(fresh_registry, monkeypatch):
    for name in ("with_weights", "without"):
        zoo.register_model(_builder(name))
    monkeypatch.setattr(registry, "pretrained_tags",
                        lambda name: ["with_weights.mnist"] if name == "with_weights" else [])
    assert zoo.list_models(pretrained=True) == ["with_weights"]
    assert zoo.list_models() == ["with_weights", "without"]
    assert zoo.describe_models("with*")[0].pretrained == ("with_weights.mnist",)


def test_pretrained_tags_are_the_ones_declared_beside_the_family(tmp_path, monkeypatch):
    from cnn_zoo.models import pretrained

    package = f"fake_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    for name in ("__init__", "nets"):
        (tmp_path / package / f"{name}.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(pretrained, "FAMILIES", {"a_net": (f"{package}.nets", "A."), "b_net": (f"{package}.nets", "B.")})
    assert registry.pretrained_tags("a_net") == []  # no nets_weights module: no tags
    declaration = ("from cnn_zoo.models.pretrained import ClassNames, Tag\n"
                   "def tag(name):\n"
                   "    return Tag(name, kwargs={'input_shape': [8, 8, 1], 'num_classes': 2},\n"
                   "               class_names=ClassNames('made up', names=('a', 'b')),\n"
                   "               metrics={'split': 'test', 'examples': 1, 'measured_by': 'nobody', 'source': 'here'},\n"
                   "               preprocessing={}, recipe={}, dataset='tfds:mnist', created='', keras_version='',\n"
                   "               sha256='0' * 64, size=1)\n")
    (tmp_path / package / "nets_weights.py").write_text(declaration + "TAGS = (tag('a_net.two'), tag('a_net.one'))\n")
    assert registry.pretrained_tags("a_net") == ["a_net.one", "a_net.two"]
    assert registry.pretrained_tags("b_net") == []
    (tmp_path / package / "other_weights.py").write_text(declaration + "TAGS = (tag('c_net.x'),)\n")
    monkeypatch.setattr(pretrained, "FAMILIES", {"a_net": (f"{package}.other", "A.")})
    with pytest.raises(errors.ZooError, match="'c_net' is not a family of"):
        registry.pretrained_tags("a_net")


# -- errors ------------------------------------------------------------------


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError) as caught:
        zoo.get_model("lenet")
    error = caught.value
    assert isinstance(error, errors.UnknownModelError)
    assert error.suggestions[:2] == ["lenet5", "lenet5_modern"]
    assert "Did you mean 'lenet5'" in str(error) and "\n" not in str(error)
    with pytest.raises(errors.UnknownModelError) as caught:
        zoo.get_model("GoogLeNet_BN")
    assert caught.value.suggestions[0] == "googlenet_bn"


def test_unknown_name_without_close_match_points_to_the_list():
    with pytest.raises(errors.UnknownModelError, match="zoo list") as caught:
        zoo.get_model("vgg16")
    assert caught.value.suggestions == []


def test_unknown_keyword_names_it_the_allowed_and_the_closest(fresh_registry):
    zoo.register_model(_builder("tiny"))
    with pytest.raises(ValueError) as caught:
        zoo.get_model("tiny", num_clases=3)
    error = caught.value
    assert isinstance(error, errors.UnknownArgumentError)
    assert (error.model, error.argument, error.suggestions) == ("tiny", "num_clases", ["num_classes"])
    assert error.allowed == sorted(COMMON_ARGUMENTS)
    message = str(error)
    assert "'num_clases'" in message and "Did you mean 'num_classes'" in message
    assert "classifier_activation, include_top" in message
    assert message.endswith("Received: num_clases=3")


def test_builder_taking_any_keyword_checks_for_itself(fresh_registry):
    @zoo.register_model
    def open_ended(**kwargs):
        return kwargs

    assert zoo.get_model("open_ended", anything=1) == {"anything": 1}


# -- the catalogue, imported on demand ---------------------------------------


def test_catalogued_module_is_imported_on_first_get(tmp_path, monkeypatch):
    module = _write_family(tmp_path, monkeypatch, '''
        @register_model
        def fake_a(*, num_classes=10):
            return ("a", num_classes)

        @register_model
        def fake_b(*, num_classes=10):
            return ("b", num_classes)
    ''')
    fresh = registry.Registry(catalog={"fake_a": (module, "A"), "fake_b": (module, "B")})
    monkeypatch.setattr(registry, "REGISTRY", fresh)

    assert zoo.list_models() == ["fake_a", "fake_b"]
    assert module not in sys.modules
    assert zoo.get_model("fake_b", num_classes=2) == ("b", 2)
    assert module in sys.modules
    assert zoo.get_model("fake_a") == ("a", 10)
    assert zoo.describe_models("fake_a")[0].summary == "A"  # the catalogue's, not a docstring


def test_catalogued_module_that_does_not_register_its_name(tmp_path, monkeypatch):
    module = _write_family(tmp_path, monkeypatch, '''
        @register_model
        def misspelt(*, num_classes=10):
            pass
    ''')
    monkeypatch.setattr(registry, "REGISTRY", registry.Registry(catalog={"fake_c": (module, "C")}))
    with pytest.raises(ImportError, match="did not register the model 'fake_c'"):
        zoo.get_model("fake_c")


def test_catalogued_modules_register_exactly_the_catalogued_names():
    # Needs the model modules (zoo/models/lenet.py, googlenet.py, convnet.py).
    for module in sorted({module for module, _ in FAMILIES.values()}):
        importlib.import_module(module)
    assert zoo.list_models() == sorted(FAMILIES)
    for name, (module, _) in FAMILIES.items():
        assert zoo.get_builder(name).__module__ == module


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_catalogued_builders_take_the_common_arguments(name):
    parameters = inspect.signature(zoo.get_builder(name)).parameters
    for argument in COMMON_ARGUMENTS:
        assert parameters[argument].kind is inspect.Parameter.KEYWORD_ONLY, argument
    assert parameters["name"].default == name
    assert parameters["weights"].default is None


# -- families ----------------------------------------------------------------


def test_a_catalogued_module_supplies_its_families_without_registering_them(tmp_path, monkeypatch):
    module = f"fake_family_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent('''
        from cnn_zoo.family import Family

        def fake_d(*, num_classes=10):
            """Docstring summary."""
            return ("d", num_classes)

        FAMILIES = (Family("fake_d", fake_d, head=("logits",), output="probs"),)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "REGISTRY", registry.Registry(catalog={"fake_d": (module, "D")}))
    assert zoo.list_models() == ["fake_d"] and module not in sys.modules
    family = zoo.get_family("fake_d")
    assert (family.head, family.output, family.summary) == (("logits",), "probs", "D")
    assert zoo.get_model("fake_d", num_classes=2) == ("d", 2)
    assert zoo.describe_models()[0].module == module


def test_a_family_object_registers_under_its_name_and_a_builder_gets_the_default_one(fresh_registry):
    from cnn_zoo.family import Family

    zoo.register_model(Family("with_head", _builder("with_head"), head=("logits",)))
    zoo.register_model(_builder("plain"))
    assert zoo.list_models() == ["plain", "with_head"]
    assert zoo.get_family("with_head").head == ("logits",)
    plain = zoo.get_family("plain")
    assert (plain.head, plain.output, plain.aux_outputs, plain.planner) == (("classifier",), "predictions", {}, None)
    with pytest.raises(errors.DuplicateModelError):
        zoo.register_model(Family("plain", _builder("with_head")))
