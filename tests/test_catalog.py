"""Catalog entries load into typed specs, and malformed entries say exactly what is wrong."""

import textwrap

import pytest

from plugforge import resources
from plugforge.catalog.spec import Catalog, load_catalog, load_entry
from plugforge.errors import CatalogError, ParamError, UnknownBlockError

VALID = """
id = "toy"
class = "Toy"
summary = "A toy block."
category = "channel attention"
role = "insert"

[paper]
title = "Toy"
authors = "Doe et al."
venue = "CVPR"
year = 2020
arxiv = "2001.00001"

[input]
layout = "NCHW"
channels = "channels"

[output]
layout = "NCHW"
channels = "channels"

[params.channels]
type = "int"
min = 1
doc = "Channels."

[params.kernels]
type = "list[int]"
default = [3, 5]
min = 1
odd = true
min_items = 2
doc = "Kernel sizes."

[params.groups]
type = "int"
default = 4
min = 1
divides = "channels"
doc = "Groups."

[params.mode]
type = "str"
default = "a"
choices = ["a", "b"]
doc = "Mode."

[param_count]
formula = "channels * (channels // groups) * sum(k * k for k in kernels) + channels * len(kernels)"

[[tests]]
params = { channels = 8 }
inputs = [[2, 8, 4, 4]]
outputs = [[2, 8, 4, 4]]
param_count = 560
"""


def write(tmp_path, text, name="toy"):
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_bundled_entry_loads(catalog):
    assert len(catalog.specs) >= 1
    for spec in catalog.specs:
        assert (spec.tests or spec.role == "utility") and spec.paper.link and spec.summary


def test_a_valid_entry_becomes_a_typed_spec(tmp_path):
    spec = load_entry(write(tmp_path, VALID))
    assert spec.class_name == "Toy" and spec.module == "toy"
    assert spec.params["kernels"].default == [3, 5]
    assert spec.params["channels"].required
    assert spec.defaults() == {"kernels": [3, 5], "groups": 4, "mode": "a"}
    assert spec.count_params({"channels": 8}) == 560


@pytest.mark.parametrize(
    "change, message",
    [
        (('class = "Toy"', 'class = "not valid"'), "toy.toml: class: must be a Python identifier"),
        (('role = "insert"', 'role = "sideways"'), "toy.toml: role: must be one of insert, replace"),
        (('category = "channel attention"', 'category = "magic"'), "toy.toml: category: must be one of"),
        (('summary = "A toy block."', ""), "toy.toml: summary: is required"),
        (('year = 2020', 'year = "2020"'), "toy.toml: paper.year: must be a int"),
        (('arxiv = "2001.00001"', ""), "toy.toml: paper.arxiv: give the paper's arxiv id or a url"),
        (('type = "list[int]"', 'type = "list[str]"'), "toy.toml: params.kernels.type: must be one of"),
        (('default = [3, 5]', 'default = [3, 4]'), "toy.toml: params.kernels.default: kernels must be"),
        (('divides = "channels"', 'divides = "chanels"'), "toy.toml: params.groups.divides: names no parameter"),
        (('choices = ["a", "b"]', ""), "toy.toml: params.mode.choices: str parameters must list their choices"),
        (('param_count = 560', 'param_count = 69'), "toy.toml: tests[0].param_count: is 69, but param_count.formula gives 560"),
        (('channels * (channels', "__import__('os') or (channels"), "toy.toml: param_count.formula: fails for tests[0]"),
        (('channels * len(kernels)', 'channels.bit_length()'), "param_count.formula: may not use Attribute"),
        (('params = { channels = 8 }', 'params = { }'), "tests[0].params: must give the required parameter 'channels'"),
        (('params = { channels = 8 }', 'params = { channels = 8, reduce = 2 }'), "tests[0].params: unknown parameter 'reduce'"),
        (('outputs = [[2, 8, 4, 4]]', 'outputs = []'), "tests[0].outputs: must be a non-empty list of shapes"),
        (('param_count = 560', 'param_count = 560\nzero_gradient = [1]'), "tests[0].zero_gradient: must be a list of parameter names"),
        (('layout = "NCHW"\nchannels = "channels"\n\n[output]', 'layout = "NCHW"\nchannels = "width"\n\n[output]'), "input.channels: names no parameter: 'width'"),
        (('id = "toy"', 'id = "toy"\nsumary = "typo"'), "toy.toml: sumary: unknown key (did you mean 'summary'?)"),
        (('channels = "channels"\n\n[output]', 'channels = "channels"\nnames = ["x"]\n\n[output]'), "input.names: must list two or more identifiers"),
        (('channels = "channels"\n\n[output]', 'channels = "channels"\nnames = ["a", "b"]\n\n[output]'), "input.shapes: needs one shape description per name (2), got 0"),
        (('channels = "channels"\n\n[output]', 'channels = "channels"\nnames = ["a", "b"]\nshapes = ["(B, C)", "(B, C)"]\n\n[output]'), "tests[0].inputs: must be a non-empty list of groups of 2 shapes, one per name"),
    ],
)
def test_malformed_entries_name_file_key_and_problem(tmp_path, change, message):
    old, new = change
    assert old in VALID
    with pytest.raises(CatalogError) as error:
        load_entry(write(tmp_path, VALID.replace(old, new, 1)))
    assert message in str(error.value)


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(CatalogError, match=r"toy.toml: invalid TOML"):
        load_entry(write(tmp_path, VALID + "\nthis is not toml"))


def test_id_must_match_file_name_and_module_must_not_shadow_stdlib(tmp_path):
    with pytest.raises(CatalogError, match="id: must match the file name"):
        load_entry(write(tmp_path, VALID, name="other"))
    with pytest.raises(CatalogError, match="module: 'gc' must be an identifier that shadows no standard-library"):
        load_entry(write(tmp_path, VALID.replace('role = "insert"', 'role = "insert"\nmodule = "gc"')))


def test_missing_template_or_helper_is_reported(tmp_path):
    path = write(tmp_path, VALID.replace('role = "insert"', 'role = "insert"\nuses = ["nope"]'))
    with pytest.raises(CatalogError, match="template: no template 'toy.py.j2'"):
        load_entry(path, templates=set(), helpers=set())
    with pytest.raises(CatalogError, match="uses: no helper template 'nope'"):
        load_entry(path, templates={"toy.py.j2"}, helpers=set())


def test_a_blocks_own_tests_must_be_where_its_entry_says(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(CatalogError, match="toy.toml: extra_tests: no template tests/toy.py.j2: write the block's own tests"):
        load_entry(path, templates={"toy.py.j2"}, helpers=set(), tests={"tyo.py.j2"})
    assert load_entry(path, templates={"toy.py.j2"}, helpers=set(), tests={"toy.py.j2"}).tests_template == "tests/toy.py.j2"
    none = write(tmp_path, VALID.replace('role = "insert"', 'role = "insert"\nextra_tests = false'))
    assert load_entry(none, templates={"toy.py.j2"}, helpers=set(), tests=set()).tests_template is None
    with pytest.raises(CatalogError, match="extra_tests: is false, but templates/tests/toy.py.j2 exists"):
        load_entry(none, templates={"toy.py.j2"}, helpers=set(), tests={"toy.py.j2"})
    utility = write(tmp_path, VALID.replace('role = "insert"', 'role = "utility"\nextra_tests = false'))
    with pytest.raises(CatalogError, match="extra_tests: a utility has no generic tests"):
        load_entry(utility)


def test_a_tests_template_of_no_entry_is_an_error_naming_it(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    for folder in ("blocks", "helpers", "tests"):
        (templates / folder).mkdir(parents=True)
    for name in ("blocks/toy.py.j2", "tests/toy.py.j2", "tests/tyo.py.j2"):
        (templates / name).write_text("")
    monkeypatch.setattr(resources, "templates_dir", lambda: templates)
    (tmp_path / "catalog").mkdir()
    write(tmp_path / "catalog", VALID)
    with pytest.raises(CatalogError, match="templates/tests/tyo.py.j2 belongs to no catalog entry"):
        load_catalog(tmp_path / "catalog")
    (templates / "tests" / "tyo.py.j2").unlink()
    assert load_catalog(tmp_path / "catalog").get("toy").tests_template == "tests/toy.py.j2"


def test_duplicate_alias_is_rejected(tmp_path):
    first = load_entry(write(tmp_path, VALID.replace('role = "insert"', 'role = "insert"\naliases = ["shared"]')))
    second = load_entry(
        write(tmp_path, VALID.replace('id = "toy"', 'id = "toy2"').replace('role = "insert"', 'role = "insert"\naliases = ["shared"]'), name="toy2")
    )
    with pytest.raises(CatalogError, match="'shared' is already used by 'toy'"):
        Catalog([first, second])


def test_lookup_is_case_insensitive_and_accepts_aliases(catalog):
    assert catalog.get("SE").id == "se"
    assert catalog.get("SENet").id == "se"
    assert catalog.get("squeeze-excitation").id == "se"


def test_unknown_block_suggests_a_close_match(catalog):
    with pytest.raises(UnknownBlockError, match=r"Did you mean .*'se'"):
        catalog.get("senett")
    with pytest.raises(UnknownBlockError, match="plugforge list"):
        catalog.get("zzzzzz")


def test_set_values_are_parsed_and_checked(tmp_path):
    spec = load_entry(write(tmp_path, VALID))
    values = spec.resolve({"kernels": "3,5,7", "groups": "2", "mode": "b"})
    assert values == {"kernels": [3, 5, 7], "groups": 2, "mode": "b"}
    assert spec.resolve({"kernels": "[1, 3]"})["kernels"] == [1, 3]


@pytest.mark.parametrize(
    "sets, message",
    [
        ({"kernels": "3,x"}, r"--set kernels=3,x: expected list\[int\] \(at least 2 items, each >= 1, each odd\), comma-separated, e.g. kernels=3,5,7"),
        ({"kernels": "3,4"}, r"--set kernels=3,4: kernels must be list\[int\] \(.*each odd"),
        ({"kernels": "3"}, r"kernels needs at least 2 items"),
        ({"groups": "0"}, r"--set groups=0: groups must be int \(>= 1, divides channels\), got 0"),
        ({"mode": "c"}, r"mode must be str \(one of 'a', 'b'\), got 'c'"),
        ({"grups": "2"}, r"toy has no parameter 'grups'. Did you mean 'groups'\?"),
        ({"channels": "8"}, r"--set channels: channels has no default"),
    ],
)
def test_bad_set_values_name_parameter_type_and_constraint(tmp_path, sets, message):
    spec = load_entry(write(tmp_path, VALID))
    with pytest.raises(ParamError, match=message):
        spec.resolve(sets)


def test_bool_and_optional_values_parse():
    catalog = load_catalog()
    se = catalog.get("se")
    assert se.params["reduction"].parse(" 8 ") == 8
    with pytest.raises(ParamError, match="expected int"):
        se.params["reduction"].parse("8.5")


IDENTITY_SWITCH = '\n[params.identity_init]\ntype = "bool"\ndefault = false\ndoc = "Start as the identity."\n'


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('role = "replace"', 'role = "replace"\nidentity = "maybe"'), "identity: must be one of"),
        (lambda t: t.replace('role = "replace"', 'role = "replace"\nidentity = "blend"'), "needs a bool parameter identity_init"),
        (lambda t: t + IDENTITY_SWITCH, "params.identity_init: is only for"),
    ],
)
def test_identity_declarations_are_validated(tmp_path, edit, message):
    entry = tmp_path / "ghost.toml"
    entry.write_text(edit(resources.catalog_dir().joinpath("ghost.toml").read_text()))
    with pytest.raises(CatalogError, match=message):
        load_entry(entry)


def test_a_blend_start_adds_one_parameter_to_the_count(catalog):
    se = catalog.get("se")
    assert se.count_params({"channels": 32, "identity_init": True}) == se.count_params({"channels": 32}) + 1


MAP_SIZE = '\n[map_size]\nfits = "H % groups == 0 and W % groups == 0"\nneeds = "H and W multiples of groups"\nadjust = "groups"\n'


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t + MAP_SIZE.replace('adjust = "groups"', 'adjust = "group"'), "map_size.adjust: names no parameter: 'group'"),
        (lambda t: t + MAP_SIZE.replace("H % groups", "H.real % groups"), "map_size.fits: may not use Attribute"),
        (lambda t: t + MAP_SIZE + 'sizes = "any"\n', "map_size.sizes: unknown key"),
        (lambda t: t.replace("[2, 8, 4, 4]", "[2, 8, 6, 4]") + MAP_SIZE, "tests[0].inputs: [2, 8, 6, 4] does not fit map_size.fits"),
    ],
)  # fmt: skip
def test_map_size_declarations_are_validated(tmp_path, edit, message):
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_entry(write(tmp_path, edit(VALID)))


def test_map_size_says_which_maps_fit_and_the_setting_that_makes_a_map_fit(tmp_path):
    spec = load_entry(write(tmp_path, VALID + MAP_SIZE))
    values = spec.defaults()
    assert spec.map_sizes(values) == "H and W multiples of groups (with groups=4: 4x4, 8x8, 12x12, 16x16, ...)"
    assert spec.map_problem(values, [(8, 8, 8), (16, 4, 12)]) is None
    # groups must also divide the channels: 6 would fit the 6x6 map, but not 8 channels
    assert spec.map_problem(values, [(8, 6, 6)]) == (
        "toy needs H and W multiples of groups (with groups=4: 4x4, 8x8, 12x12, 16x16, ...); "
        "the maps that reach it are 6x6: use --set groups=2"
    )
    square = load_entry(write(tmp_path, VALID + MAP_SIZE.replace("H % groups == 0 and W % groups == 0", "H == W == groups")))
    assert square.map_problem(values, [(8, 4, 4), (8, 2, 2)]).endswith(
        "the maps that reach it are 4x4, 2x2, and no groups fits them all: wire it where every map has one size that "
        "fits, or render it with `plugforge new toy` and call it where it fits"
    )


def test_the_size_agnostic_blocks_declare_no_map_size_and_the_others_do(catalog):
    constrained = {spec.id for spec in catalog.specs if spec.map_size}
    assert constrained == {"aft", "mhsa", "weighted_permute_mlp"}
    aft = catalog.get("aft")
    assert aft.map_sizes(aft.defaults()) is None  # AFT-simple by default
    assert aft.map_sizes({**aft.defaults(), "max_tokens": 49}).endswith("(with max_tokens=49: 1x1 to 7x7)")


def test_rules_join_each_parameters_bounds_and_the_entrys_relations(tmp_path):
    text = VALID + '\n[[rules]]\nrequire = "channels % 2 == 0"\nwhy = "halves"\n'
    spec = load_entry(write(tmp_path, text))
    rules = [rule.require for rule in spec.all_rules()]
    assert "channels % groups == 0" in rules and rules[-1] == "channels % 2 == 0"
    assert [r.require for r in spec.broken_rules({**spec.defaults(), "channels": 6, "groups": 4})] == ["channels % groups == 0"]
    assert spec.fitting_setting({**spec.defaults(), "channels": 6, "groups": 4}, {"channels"}) == ("groups", 3)
