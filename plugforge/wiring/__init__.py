"""`add` and `remove`: render a catalog block, vendor it, and wire it into a model file.

``plugforge.wire`` rewrites source text and knows nothing of the catalog. This
module turns an entry into the wire package's ``Block`` and ``Source``, decides
which files change (model, vendored block, package ``__init__.py``), and writes
them all or none through ``plugforge.project``. Beside it, in this package: a
notebook cell as the model file (``notebook``), blocks that change the map size
(``resampling``), Ultralytics model YAMLs (``yolo``) and their checkpoints
(``yolo_weights``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from plugforge import files, project, wire
from plugforge.catalog.spec import FORMULA_FUNCTIONS, BlockSpec, evaluate, literal
from plugforge.errors import PlugforgeError, UsageError
from plugforge.rendering import provenance
from plugforge.rendering.cache import default_block
from plugforge.wiring import resampling
from plugforge.wiring.notebook import Notebook


@dataclass
class Outcome:
    messages: list[str] = field(default_factory=list)
    diff: str = ""  # dry run only: what would change
    report: str = ""  # add --check: the check's report
    written: Path | None = None  # a YOLO model YAML: the file that add wrote


@dataclass(frozen=True)
class AddRequest:
    """Everything ``plugforge add`` is asked to do, built once (by the CLI) and checked once, when built.

    ``where`` places the block (class, anchor, attribute name, channels); ``settings`` are
    the ``--set`` values as given. ``check`` is an expression to build and run at
    ``shapes`` once the files are written (everything is undone if it fails); where the
    source does not tell the channels, they are measured by building ``build`` (default:
    the class with its defaults). A YOLO model YAML goes to ``plugforge.wiring.yolo`` with the
    ``yolo`` options (after_layer, rewire, in_place, ultralytics, patch_installed).
    """

    spec: BlockSpec
    model: Path
    where: wire.Placement
    settings: dict[str, str] = field(default_factory=dict)
    inline: bool = False
    identity_init: bool = False
    cell: int | None = None
    dry_run: bool = False
    check: str | None = None
    build: str | None = None
    shapes: tuple[tuple[int, ...], ...] = ()
    yolo: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shapes and not (self.check or self.build):
            raise UsageError("--input is the input shape for --check or --build; add one of them")
        if self.check is None:
            return
        if not self.shapes:
            raise UsageError("--check needs the input shape: add --input SHAPE, e.g. --input 2,256,56,56")
        if self.dry_run:
            raise UsageError("--check imports the wired files, so it cannot run with --dry-run")
        if self.model.suffix != ".py":
            raise UsageError(f"--check imports the model, so it needs a .py file, not {self.model.name}")


def placement(**choices: Any) -> wire.Placement:
    """``wire.Placement(**choices)``, or its refusal worded for the command line."""
    try:
        return wire.Placement(**choices)
    except wire.PlacementError as error:
        raise UsageError(worded(error)) from None


# How the user of `plugforge add` gives each field of the request that the wire package's messages name
# (``⟨channels⟩``, see ``plugforge.wire.FIELD``), and the words it has for the tool around the wiring.
WORDS = {
    "class_name": "--class",
    "after": "--after",
    "before": "--before",
    "replace": "--replace",
    "name": "--name",
    "channels": "--channels",
    "settings": "--set",
    "inline": "--inline",
    "path": "--into",
    "build": "--build",  # the model to build and measure at run time
    "rewire": "--rewire",
    "ultralytics": "--ultralytics",
    "add": "plugforge add",
    "remove": "plugforge remove",
    "list": "plugforge list",
    "library": "catalog",  # where the blocks come from
}


def worded(error: PlugforgeError | str) -> str:
    """A message of the wire package (an error or a note) as a user of ``plugforge add`` reads it: with options."""
    return wire.FIELD.sub(lambda field: WORDS[field[1]], str(error))


@contextmanager
def _worded_errors() -> Iterator[None]:
    """Word the errors raised inside for the command line (``worded``); each keeps its type."""
    try:
        yield
    except PlugforgeError as error:
        if (text := worded(error)) != str(error):
            error.args = (text,)
        raise


def add(request: AddRequest) -> Outcome:
    """Wire the requested block into its model, one run at a time per model and blocks folder."""
    with files.locked(_edited(request.model)), _worded_errors():
        outcome = _add(request)
    return dataclasses.replace(outcome, messages=[worded(message) for message in outcome.messages])


def _add(request: AddRequest) -> Outcome:
    """Wire ``request.spec`` into ``request.model``; every file is written, or none."""
    spec, model, where = request.spec, request.model, request.where
    if _is_yaml(model):
        return _yolo_add(request)
    if request.yolo:
        options = ", ".join("--" + k.replace("_", "-") for k in request.yolo)
        raise PlugforgeError(f"{options} apply(s) to a YOLO model YAML, not to {model.name}")
    _check_wireable(spec)
    values, chosen = resolved(spec, request.settings, request.identity_init)
    as_source = {name: literal(value) for name, value in values.items()}  # the values as the model's source writes them
    defaults = spec.defaults()
    block = wire.Block(
        class_name=spec.class_name,
        role=spec.role,
        params=tuple(spec.params),
        kwargs={name: as_source[name] for name in values if values[name] != defaults[name]},
        same_channels=_same_channels(spec, values, chosen),
        insert_at=spec.insert_at,
        rules=tuple((rule.require, rule.why) for rule in spec.all_rules()) + resampling.factor_rule(spec),
        settings=as_source,
        resample=spec.resample,
        sequences=tuple(name for name, param in spec.params.items() if param.is_list),
    )
    build, shapes = request.build, request.shapes if request.build else ()  # --check's shapes are its own
    check = _after_add_check(request)
    runs_model = check is not None or bool(build and shapes)  # add will build and run the wired model
    resizing = bool(where.after or where.before) and spec.role == "replace" and resampling.changes_size(spec, values)
    source, rewrite, notes = _document(model, request.cell, where.class_name)  # an unreadable model is said first
    _check_map_known(spec, values, runs_model)
    if resizing:
        block = resampling.inserted(spec, values, block, runs_model)
    config = project.find_config(model)
    code = default_block(spec)
    changes: dict[Path, str | None] = {}
    if request.inline or config.style == "inline" or model.suffix == ".ipynb":
        origin = wire.Source(inline_code=code)
    else:
        block_file = config.blocks_dir / f"{spec.module}.py"
        target = project.import_for(model, block_file)
        origin = wire.Source(module=target.module, level=target.level)
        if not block_file.exists():
            changes[block_file] = code
            changes[provenance.base_path(block_file)] = code  # the pristine copy for `diff` and `update`
        elif not block_file.is_file():
            raise PlugforgeError(f"{_shown(block_file)} is a folder, where the block's file goes; move it away")
        elif getattr(provenance.read_path(block_file), "block_id", None) != spec.id:
            raise PlugforgeError(
                f"{_shown(block_file)} exists and is not plugforge's render of {spec.id}, so the block cannot be "
                f"vendored there; rename your file, set another blocks-dir in [tool.plugforge], or use --inline"
            )
        elif block_file.read_text(encoding="utf-8", errors="replace") != code:
            notes.append(f"kept {_shown(block_file)} as it is (it differs from a fresh render: your edits stay)")
        changes.update({init: "" for init in target.missing_inits})
        if config.render_tests:
            changes.update(_tests_for(spec, block_file, config.tests_dir, target.missing_inits))
    wire_add = partial(wire.add, source, origin=origin, path=model)
    try:
        result = wire_add(block=block, where=where)
        width = _literal_width(result.channels)
    except wire.RulesUndecided as undecided:
        if build is None or model.suffix != ".py":
            raise
        note = _measured_rules(spec, values, chosen, model, undecided, build)
        result = wire_add(block=dataclasses.replace(block, rules=()), where=where)
        result.messages.append(note)
        width = None
    except wire.ChannelsUnknown as unknown:
        if model.suffix != ".py":
            raise
        channels, note, width = _measured(model, unknown, build, shapes)
        result = wire_add(block=block, where=dataclasses.replace(where, channels=channels))
        result.messages[:] = [note if m.startswith("channels: ") else m for m in result.messages]
    if width is not None:
        _check_width(spec, values, block.same_channels, width, result.channels)
    changes[model] = rewrite(result.source)
    created = [f"created {_shown(p)}" for p in changes if p != model and not p.exists() and provenance.STORE not in p.parts]
    if check is None and build and shapes and spec.map_size and model.suffix == ".py" and not request.dry_run:
        check = partial(_maps_fit, model, build, shapes)  # the user gave the input size: refuse a map that does not fit
    if check is None and build and shapes and resizing and not request.dry_run:
        check = partial(resampling.runs, model, build, shapes)  # the map size changes: refuse a model it breaks
    with project.restored_on_error(changes) if check else nullcontext():
        diff = project.write_all(changes, request.dry_run)
        report = check(spec, values) if check else ""
    return Outcome(result.messages + notes + ([] if request.dry_run else created), diff, report)


def _after_add_check(request: AddRequest) -> Callable[[BlockSpec, dict[str, Any]], str] | None:
    """``add --check``: the check to run once the files are written (it imports torch), or None."""
    if request.check is None:
        return None
    from plugforge.measure import checking

    return checking.add_check(request.model, request.check, request.shapes)


def _is_yaml(model: Path) -> bool:
    return model.suffix in (".yaml", ".yml")


def _yolo_add(request: AddRequest) -> Outcome:
    from plugforge.wiring import yolo

    where = request.where
    python_only = dict(class_name=where.class_name, before=where.before, replace=where.replace,
                       name=where.explicit_name, channels=where.channels, inline=request.inline, cell=request.cell,
                       check=request.check, build=request.build)  # fmt: skip
    given = [name for name, value in python_only.items() if value not in (None, False)]
    if given:
        names = ", ".join("--" + name.replace("_name", "").replace("_", "-") for name in given)
        raise PlugforgeError(f"{names}: not for a YOLO model YAML, whose rows are placed with --after INDEX or --after-layer NAME")
    values, chosen = resolved(request.spec, request.settings, request.identity_init)
    return yolo.add(request.spec, values, chosen, request.model, after=where.after, dry_run=request.dry_run,
                    **request.yolo)  # fmt: skip


@_worded_errors()
def yolo_layers(model: Path) -> list[tuple[str, ...]]:
    """`anchors` of a YOLO model YAML: a header and one row per layer."""
    from plugforge.wiring import yolo

    return yolo.layers(model)


@_worded_errors()
def anchors(
    model: Path, class_name: str | None = None, build: str | None = None, shapes: tuple[tuple[int, ...], ...] = ()
) -> list[wire.Anchor]:
    """The anchors of the class; with ``build``, channels the source cannot tell are measured."""
    source = read_source(model)
    found = wire.anchors(source, class_name, path=model)
    unknown = {a.name: a.constructor for a in found if a.channels is None and a.uses.startswith("called")}
    if build is None or not unknown:
        return found
    try:
        from plugforge.measure import probe
    except ImportError:
        raise PlugforgeError("--build measures channels with torch; install it (pip install torch)") from None
    owner = class_name or wire.module_classes(source)[0]
    measured = probe.measured_anchors(model, owner, unknown, build, shapes)
    return [dataclasses.replace(a, channels=measured.get(a.name, a.channels)) for a in found]


def _measured(model: Path, unknown, build: str | None, shapes) -> tuple[str, str, int]:
    """``(channels, note, width)`` measured at run time; without torch, the refusal as it was, with the fix."""
    try:
        from plugforge.measure import probe
    except ImportError:
        raise PlugforgeError(f"{unknown}, or install torch to let plugforge measure them") from None
    try:
        return probe.measured_channels(model, unknown.class_name, unknown.anchor, unknown.constructor, build, shapes)
    except PlugforgeError as error:
        raise PlugforgeError(f"{unknown}\nMeasuring them at run time did not settle it: {error}") from None


def _check_map_known(spec: BlockSpec, values: dict[str, Any], input_given: bool) -> None:
    """A block that constrains the map size is wired only where add can see the maps that reach it."""
    rule = spec.map_sizes(values)
    if rule and not input_given:
        raise PlugforgeError(
            f"{spec.id} needs {rule}, and the source does not tell the map size where it goes: give the model and "
            f"its input (--check EXPR --input SHAPE, or --build EXPR --input SHAPE) so that add checks every map "
            f"that reaches it"
        )


def _maps_fit(model: Path, build: str, shapes: tuple[tuple[int, ...], ...], spec: BlockSpec, values: dict[str, Any]) -> str:
    """``--build EXPR --input SHAPE``: refuse the block where a map reaching it does not fit its map-size rule."""
    from plugforge.measure import checking

    checking.refuse_unfit_maps("--build", model, build, shapes, spec, values)
    return ""


def _measured_rules(spec: BlockSpec, values: dict[str, Any], chosen: set[str], model: Path, undecided, build):
    """Check the rules the source could not decide in every replaced layer ``build`` makes; the note, or an error."""
    try:
        from plugforge.measure import probe
    except ImportError:
        raise PlugforgeError(f"{undecided}; --build measures the layers with torch: install it") from None
    try:
        layers = probe.measured_layers(model, undecided.class_name, undecided.anchor, build)
    except PlugforgeError as error:
        raise PlugforgeError(f"{undecided}\nMeasuring it at run time did not settle it: {error}") from None
    where = f"{undecided.class_name}.{undecided.anchor}"
    read = {node.id for rule, _ in undecided.rules for node in ast.walk(ast.parse(rule)) if isinstance(node, ast.Name)}
    layer_only = read - set(spec.params) - set(FORMULA_FUNCTIONS)
    for arguments in layers:
        given = {name: _one_size(value) for name, value in arguments.items() if name in spec.params or name in layer_only}
        if not layer_only <= given.keys():  # a fixed factor's rule reads the layer's stride
            raise PlugforgeError(f"{undecided}\nMeasuring it at run time did not settle it: in {build} a {where} has no "
                                 f"{', '.join(sorted(layer_only - given.keys()))}: is it already replaced?")
        scope = {**FORMULA_FUNCTIONS, **given, **{name: values[name] for name in chosen}}
        for rule, why in undecided.rules:
            if not evaluate(rule, {**values, **scope}):
                named = [name for name in sorted(given) if re.search(rf"\b{name}\b", rule)]
                shown = ", ".join(f"{name}={arguments[name]!r}" for name in named)
                raise PlugforgeError(
                    f"{spec.class_name} needs {rule}" + (f" ({why})" if why else "") + f", but in {build} "
                    f"a {where} has {shown}; choose a layer where it holds, or another block"
                )
    rules = " and ".join(rule for rule, _ in undecided.rules)
    return f"checked at run time: {rules} holds for {where} in all {len(layers)} of {build}"


def _one_size(value: Any) -> Any:
    """An nn.Conv2d size as the block takes it: a square pair as one int."""
    return value[0] if isinstance(value, tuple) and len(set(value)) == 1 else value


def _literal_width(channels: str | None) -> int | None:
    """The width a channel expression states, when it is a literal (``64``)."""
    try:
        value = ast.literal_eval(channels) if channels else None
    except (ValueError, SyntaxError):
        return None
    return value if type(value) is int else None


def _check_width(spec: BlockSpec, values: dict[str, Any], same: tuple[str, ...], width: int, channels: str) -> None:
    """Refuse, before writing, a block whose rules the known width at the anchor breaks; name a setting that works."""
    fixed = {spec.input.channels, *same}
    scope = {**values, **{name: width for name in fixed}}
    broken = spec.broken_rules(scope)
    if not broken:
        return
    rule, fix = broken[0], spec.fitting_setting(scope, fixed)
    settings = ", ".join(f"{name}={literal(scope[name])}" for name in sorted(rule.names - fixed) if name in values)
    need = f"{spec.id} needs {rule.require}" + (f" ({rule.why})" if rule.why else "")
    where = f"the width at the anchor is {width}" + (f" ({channels})" if channels != str(width) else "")
    where += f" with {settings}" if settings else ""
    advice = f"add --set {fix[0]}={fix[1]}" if fix else f"choose other values with --set (`plugforge info {spec.id}`)"
    raise PlugforgeError(f"{need}, but {where}: {advice}")


def remove(model: Path, name: str, **options: Any) -> Outcome:
    """Undo ``add`` (options as for ``_remove``), one run at a time per model and blocks folder."""
    with files.locked(_edited(model)), _worded_errors():
        outcome = _remove(model, name, **options)
    return dataclasses.replace(outcome, messages=[worded(message) for message in outcome.messages])


def _edited(model: Path) -> list[Path]:
    """What ``add`` and ``remove`` lock: the model file and the blocks folder (the project's, if configured)."""
    return [model, project.find_config(model).blocks_dir]


def _remove(
    model: Path, name: str, *, class_name: str | None = None, cell: int | None = None, dry_run: bool = False,
    ultralytics: Path | None = None, keep_registered: bool = False,
) -> Outcome:
    """Undo ``add``: attribute, calls, import; the vendored file too when nothing else imports it.

    In a YOLO model YAML: the block's rows (and, unless ``keep_registered``, its registration).
    """
    if _is_yaml(model):
        from plugforge.wiring import yolo

        return yolo.remove(model, name, ultralytics=ultralytics, keep_registered=keep_registered, dry_run=dry_run)
    source, rewrite, notes = _document(model, cell, class_name)
    result = wire.remove(source, name, class_name=class_name, vendored=partial(_is_vendored, model))
    changes: dict[Path, str | None] = {model: rewrite(result.source)}
    messages = list(result.messages) + notes
    vendored = [path for origin in result.removed_origins if (path := _vendored_file(model, origin))]
    root = _project_root(model)
    others = [p for p in _python_files(root) if p != model.resolve()] if vendored else []
    for block_file in vendored:
        users = [p for p in others if block_file.resolve() in _imported_files(p, root)]
        if users:
            messages.append(f"kept {_shown(block_file)}: still imported by {', '.join(_shown(p) for p in users)}")
            continue
        changes[block_file] = None
        changes[provenance.base_path(block_file)] = None
        messages.append(f"deleted {_shown(block_file)} (nothing else imports it)")
        changes.update(_package_leftovers(block_file.parent, changes))
    diff = project.write_all(changes, dry_run)
    if not dry_run:  # folders emptied by the deletions: the base store first, then the blocks package
        files.remove_empty_folders(path.parent for path in changes if changes[path] is None)
    return Outcome(messages, diff)


def _package_leftovers(directory: Path, changes: dict[Path, str | None]) -> dict[Path, None]:
    """The blocks package's empty ``__init__.py`` once its last block goes."""
    init = directory / "__init__.py"
    store = directory / provenance.STORE
    remaining = [p for p in directory.iterdir() if p not in (init, store) and changes.get(p, "") is not None]
    if store.is_dir():
        remaining += [p for p in store.iterdir() if changes.get(p, "") is not None]
    if init.is_file() and not remaining and not init.read_text(encoding="utf-8").strip():
        return {init: None}
    return {}


def _tests_for(spec: BlockSpec, block_file: Path, tests_dir: Path | None, new_inits: list[Path]) -> dict[Path, str]:
    """``render-tests = true``: the block's rendered tests (and their pristine copy), unless already there."""
    from plugforge.rendering.render import render  # Jinja and black: only for projects that render tests

    beside = tests_dir is None or tests_dir.resolve() == block_file.parent.resolve()
    tests_file = (block_file.parent if beside else tests_dir) / f"test_{spec.module}.py"
    if tests_file.exists():
        return {}
    module = f".{spec.module}" if beside else project.absolute_module(block_file, new_inits)
    text = render(spec, spec.defaults(), tests_import=module).tests
    return {tests_file: text, provenance.base_path(tests_file): text}


def _document(model: Path, cell: int | None, class_name: str | None) -> tuple[str, Callable[[str], str], list[str]]:
    """The code to wire, how to put the rewritten code back, and a note on where it is.

    A ``.py`` file is its own code; in a notebook it is one code cell.
    """
    if model.suffix == ".ipynb":
        book = Notebook.read(model)
        number = book.choose_cell(cell, class_name)
        return book.source(number), partial(book.with_source, number), [f"in {book.label(number)} of {_shown(model)}"]
    if cell is not None:
        raise PlugforgeError(f"--cell picks a cell of a notebook, and {model} is not one; drop --cell")
    return read_source(model), lambda text: text, []


def read_source(model: Path) -> str:
    """The model file's exact text (CRLF and BOM included), or a clear error."""
    if model.suffix != ".py":
        raise PlugforgeError(f"{model} is not a .py file or a notebook; pass the file that defines your model")
    return files.read_text(model)


def _check_wireable(spec: BlockSpec) -> None:
    """Refuse, naming what to do instead, a block that cannot go next to one layer of a CNN."""
    if spec.takes_one_map:
        return
    if spec.fuses:
        raise PlugforgeError(
            f"{spec.id} fuses several feature maps, so it cannot be wired next to one layer; "
            f"render it with `plugforge new {spec.id}` and call it where your features meet "
            f"(`plugforge info {spec.id}` shows its inputs)"
        )
    if spec.is_function:
        raise PlugforgeError(f"{spec.id} is a utility function, not a layer; render it with `plugforge new {spec.id}`")
    raise PlugforgeError(
        f"{spec.id} works on {spec.input.layout} tensors, not on the (B, C, H, W) maps of a 2-D CNN; "
        f"render it with `plugforge new {spec.id}` and call it where your data has that layout"
    )


def resolved(spec: BlockSpec, settings: dict[str, str], identity_init: bool) -> tuple[dict[str, Any], set[str]]:
    """The block's values, typed and checked, and the names the user chose (``--set``, ``--identity-init``)."""
    if identity_init and spec.identity is None:
        raise PlugforgeError(
            f"{spec.id} cannot start as the identity; drop --identity-init, or pick a block that can "
            "(`plugforge list --identity-init`)"
        )
    values, chosen = spec.resolve(settings), set(settings)
    if identity_init and spec.identity != "built-in":
        return {**values, "identity_init": True}, chosen | {"identity_init"}
    return values, chosen


_PROBE = 96  # a channel count to evaluate output-width expressions with


def _same_channels(spec: BlockSpec, values: dict[str, Any], chosen: set[str]) -> tuple[str, ...]:
    """Parameters that must also get the anchor's channels so the block keeps the width.

    Inserted blocks sit between layers built for one width. A block that keeps
    it needs nothing; one whose ``out_channels`` decides it (ASPP, PPM) gets the
    same expression; any other width change is refused.
    """
    if spec.role == "replace" or not spec.output.channels:
        return ()
    if _output_width(spec, values) == _PROBE:
        return ()
    if "out_channels" in spec.params and "out_channels" not in chosen:
        if _output_width(spec, {**values, "out_channels": _PROBE}) == _PROBE:
            return ("out_channels",)
    raise PlugforgeError(
        f"{spec.id} turns C input channels into {spec.output.channels} with these parameters, so the layers after "
        f"the anchor would no longer fit; render it with `plugforge new {spec.id}` and build the next layer for "
        "that width, or set parameters that keep the width (see `plugforge info " + spec.id + "`)"
    )


def _output_width(spec: BlockSpec, values: dict[str, Any]) -> Any:
    scope = {**FORMULA_FUNCTIONS, **values, "C": _PROBE}
    if spec.input.channels:
        scope[spec.input.channels] = _PROBE
    return evaluate(spec.output.channels, scope)


def _is_vendored(model: Path, origin: str) -> bool:
    """Whether the model's import of ``origin`` reads a block file plugforge wrote (its header says so).

    A block file deleted by hand still counts when it was in the blocks folder, so
    that `remove` can clean up the model after it.
    """
    path = project.module_file(model, origin)
    if path.exists():
        return provenance.read_path(path) is not None
    return path.parent.resolve() == project.find_config(model).blocks_dir.resolve()


def _vendored_file(model: Path, origin: str) -> Path | None:
    """The vendored block file a removed import pointed at, if it exists."""
    path = project.module_file(model, origin)
    return path if path.is_file() else None


def _project_root(model: Path) -> Path:
    root = project.find_config(model).pyproject
    return root.parent.resolve() if root else project.folder_of(model).resolve()


def _python_files(root: Path) -> list[Path]:
    return [p.resolve() for p in root.rglob("*.py") if ".venv" not in p.parts and "site-packages" not in p.parts]


def _imported_files(path: Path, root: Path) -> set[Path]:
    """The files of the project that ``path`` imports, each import resolved as Python would find it.

    Relative imports from the file's package; absolute ones from the file's folder (a
    script), the folder above its package, and the project root.
    """
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):  # not Python, or not readable (a dangling link): imports nothing
        return set()
    top = path.parent
    while (top / "__init__.py").is_file() and top.parent != top:
        top = top.parent
    bases = list(dict.fromkeys([path.parent, top, root]))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [(bases, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level <= len(path.parents):
            start = [path.parents[node.level - 1]] if node.level else bases
            base = node.module or ""
            modules = [(start, base)] * bool(base) + [(start, f"{base}.{a.name}".lstrip(".")) for a in node.names]
        else:
            continue
        for starts, module in modules:
            for start in starts:
                target = start.joinpath(*module.split("."))
                found |= {f.resolve() for f in (target.with_suffix(".py"), target / "__init__.py") if f.is_file()}
    return found


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
