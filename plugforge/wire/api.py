"""The wiring operations: ``add``, ``remove``, ``anchors`` and ``module_classes``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import libcst as cst

from . import locate as locating
from .analysis import ClassAnalysis, Resolver, Workspace
from .anchors import list_anchors
from .channels import CONV, PASS, input_channels, output_channels
from ..roles import ROLES, WIRED
from .datatypes import Anchor, Block, Placement, Result, Source
from .document import parse
from .errors import ChannelsUnknown, PlacementError, WireError
from .expression import checked_channels, scope_at
from .imports import add_import, imported_block_names, is_import_line, module_bindings, remove_import
from .inline import inline, inlined_names, remove_inlined
from .modules import ModuleIndex
from .insert import attribute_line, block_call, insert_line, remove_line, unwrap_calls, wrap_calls
from .layers import TORCH_PREFIXES
from .nodes import callee, code, indentation_of, names_read, parse_expression, short
from .position import Position, choose
from .replace import mark, original_text, replacement, restore
from .sequential import locate, paths, renumbered_keys, with_element, without_element

ALREADY_WIRED = "already wired; nothing to do"


def module_classes(source: str) -> list[str]:
    """Names of the nn.Module subclasses defined in the file."""
    return [node.name.value for node in locating.module_classes(parse(source).module)]


def anchors(source: str, class_name: str | None = None, path: str | Path | None = None) -> list[Anchor]:
    """Every attribute of the class a block can be wired next to.

    ``path`` is where the file lives: names it imports are then followed to their
    definitions in its package and on ``sys.path``.
    """
    module = parse(source).module
    node = locating.select_class(module, class_name)
    index = ModuleIndex(Path(path)) if path is not None else None
    return list_anchors(_resolver(module, index).analysis(node.name.value))


def _resolver(module: cst.Module, index: ModuleIndex | None) -> Resolver:
    if index is None:
        return Resolver(module)
    return Resolver(file=index.model_file(module), workspace=Workspace(index))


@dataclass(frozen=True)
class _Request:
    block: Block
    origin: Source
    where: Placement
    index: ModuleIndex | None = None  # the files around the model, read once per request

    def check(self) -> None:
        """Refuse a block the placement cannot take; the errors carry what the caller needs to word them."""
        role, block_name = self.block.role, self.block.class_name
        if not block_name.isidentifier() or not all(key.isidentifier() for key in self.block.kwargs):
            names = (block_name, list(self.block.kwargs))
            problem = f"invalid block {block_name!r} or parameter names {names[1]}; fix the ⟨library⟩"
            raise PlacementError("block", problem, names)
        if role not in ROLES:
            raise WireError(f"unknown role {role!r} for {block_name}; the roles are {', '.join(ROLES)}")
        if role not in WIRED:
            raise WireError(f"{block_name} fuses several inputs, so it cannot be wired automatically; call it by hand")
        if self.where.replace is not None and role != "replace":
            problem = f"⟨replace⟩ needs a conv-like block; {block_name} is an {role} block: use ⟨after⟩ or ⟨before⟩"
            raise PlacementError("replace-role", problem, (block_name, role))
        if role == "replace" and (self.where.after or self.where.before):
            problem = f"{block_name} is conv-like (role replace): use ⟨replace⟩ ATTR, or leave the position out"
            raise PlacementError("position-role", problem, (block_name, role))
        if (self.origin.module is None) == (self.origin.inline_code is None):
            raise WireError("the block source must be either a module to import or code to inline, not both or neither")
        if self.where.channels is not None:
            parse_expression(self.where.channels, "⟨channels⟩")


def add(
    source: str,
    block: Block,
    origin: Source,
    where: Placement | None = None,
    *,
    path: str | Path | None = None,
    **choices: Any,
) -> Result:
    """Wire ``block`` at ``where`` into the model source; running it twice changes nothing the second time.

    ``choices`` are the fields of a ``Placement``, for a caller that has not built one.
    ``path`` is where the file lives, as for ``anchors``.
    """
    index = ModuleIndex(Path(path)) if path is not None else None
    request = _Request(block, origin, where or Placement(**choices), index)
    request.check()
    return _add(source, request, check_wired=True)


def _add(source: str, request: _Request, check_wired: bool) -> Result:
    document = parse(source)
    module = document.module
    node = locating.select_class(module, request.where.class_name)
    analysis = _resolver(module, request.index).analysis(node.name.value)
    if check_wired and _attribute_already_wired(source, request, analysis):
        return Result(source, [ALREADY_WIRED])
    where = request.where
    position = choose(analysis, request.block.role, where.after, where.before, where.replace, request.block.insert_at)
    if request.where.channels is not None:
        _check_channels(module, analysis, position, request)
    key = _wired_element(analysis, position, request.block) if check_wired else None
    if key and _reproduces(source, request, key, analysis.name):
        return Result(source, [ALREADY_WIRED])
    new_node, messages, channels = _apply(analysis, position, request)
    module = _swap(module, node, new_node)
    module, origin_messages = _attach(module, request)
    messages = [_default_message(analysis, position, request), _redefined(module, node), *messages, *origin_messages]
    return Result(document.render(module), [message for message in messages if message], channels=channels)


def _redefined(module: cst.Module, node: cst.ClassDef) -> str | None:
    """A note when the file defines the class more than once: only the last definition is wired."""
    count = sum(isinstance(s, cst.ClassDef) and s.name.value == node.name.value for s in module.body)
    if count < 2:
        return None
    return f"{node.name.value} is defined {count} times in the file; wired the last definition, the one Python uses"


def _attribute_already_wired(source: str, request: _Request, analysis: ClassAnalysis) -> bool:
    """Whether the add was already done; an attribute wired with other settings is an error."""
    for key in _wired_attributes(analysis, request):
        if _reproduces(source, request, key, analysis.name):
            return True
        if request.block.role != "replace" or request.where.replace:
            raise WireError(
                f"{analysis.name}.{key} is already wired with other settings; "
                f"run `⟨remove⟩ {key}` first, or pick another ⟨name⟩"
            )
    return False


def _wired_attributes(analysis: ClassAnalysis, request: _Request) -> list[str]:
    """Attributes that may already hold this block: they are checked by re-running the add."""
    model, block_name = analysis.model, request.block.class_name
    if request.block.role == "replace":
        names = [request.where.replace] if request.where.replace else list(model.assignments)
        return [name for name in names if name in model.assignments and original_text(model.assignments[name].line)]
    if request.where.name in model.class_level_names:
        raise WireError(f"{model.name} already defines {request.where.name}; choose another ⟨name⟩")
    existing = model.assignments.get(request.where.name)
    if existing is None:
        return []
    if callee(existing.value) != block_name:
        raise WireError(
            f"{model.name} already has self.{request.where.name} = {code(existing.value)}; choose another ⟨name⟩"
        )
    return [request.where.name]


def _wired_element(analysis: ClassAnalysis, position: Position, block: Block) -> str | None:
    """The Sequential element next to the anchor (or, for a default, the anchor) if it is this block."""
    if "." not in position.anchor or position.mode == "replace":
        return None
    slot = locate(analysis, position.anchor)
    parent = position.anchor.rsplit(".", 1)[0]
    candidates = [slot.index + (1 if position.mode == "after" else 0)]
    candidates += [slot.index] if position.default else []
    for index in candidates:
        if index < len(slot.call.args) and callee(slot.call.args[index].value) == block.class_name:
            return f"{parent}.{index}"
    return None


def _reproduces(source: str, request: _Request, key: str, class_name: str) -> bool:
    """Whether removing ``key`` and adding again gives back ``source``."""
    restored = remove(source, key, class_name).source
    return _add(restored, request, check_wired=False).source == source


def _apply(analysis: ClassAnalysis, position: Position, request: _Request):
    """``(new class node, messages, the block's channel expression or None)``."""
    if position.mode == "replace":
        return _replace(analysis, position, request)
    if "." in position.anchor:
        return _insert_into_sequential(analysis, position, request)
    return _insert_attribute(analysis, position, request)


def _insert_attribute(analysis: ClassAnalysis, position: Position, request: _Request):
    anchor, before = position.anchor, position.mode == "before"
    channels, note = _channels(analysis, position, request)
    call = block_call(request.block, channels)
    name = request.where.name
    line = attribute_line(name, call)
    node = insert_line(analysis.model.node, analysis.model.assignments[anchor].statement, line, before)
    node, count = wrap_calls(node, anchor, name, before)
    messages = [f"added self.{name} = {code(call)} {position.mode} self.{anchor} in {analysis.name}.__init__"]
    messages += [note] if note else []
    if count > 1:
        messages.append(f"{anchor} is called {count} times in {analysis.name}; wrapped every call")
    return node, messages, _text(channels)


def _insert_into_sequential(analysis: ClassAnalysis, position: Position, request: _Request):
    slot = locate(analysis, position.anchor)
    channels, note = _channels(analysis, position, request)
    call = block_call(request.block, channels)
    index = slot.index + (0 if position.mode == "before" else 1)
    parent = position.anchor.rsplit(".", 1)[0]
    if request.where.explicit_name:
        raise WireError(
            f"⟨name⟩ {request.where.name} cannot name an element of the nn.Sequential {parent}: its elements are "
            f"numbered, so the block would be {parent}.{index}; drop ⟨name⟩, or wire after the whole "
            f"Sequential (⟨after⟩ {parent.split('.')[0]}) to get self.{request.where.name}"
        )
    node = analysis.model.node.deep_replace(slot.call, with_element(slot.call, index, call))
    path = f"{parent}.{index}"
    messages = [f"inserted {code(call)} as {path} ({position.mode} {position.anchor}); remove it by the name {path}"]
    return node, messages + ([note] if note else []) + renumbered_keys(parent, index, len(slot.call.args)), _text(channels)


def _replace(analysis: ClassAnalysis, position: Position, request: _Request):
    anchor = position.anchor
    if "." in anchor:
        raise WireError(
            f"⟨replace⟩ takes an attribute of the class; {anchor} is inside a Sequential, replace it by hand"
        )
    assignment = analysis.model.assignments[anchor]
    if assignment.branch is not None:
        raise WireError(f"self.{anchor} is assigned in {len(assignment.values)} arms of an if; replace it by hand")
    channels = parse_expression(request.where.channels, "⟨channels⟩") if request.where.channels else None
    fed = None
    if channels is None and analysis.category(anchor) == PASS:  # a pool or an nn.Upsample: no channel arguments
        channels, fed = _fed_width(analysis, anchor)
    call, notes = replacement(analysis.name, anchor, analysis.layer(anchor), request.block, channels)
    notes += [f"channels: {code(channels)}, {fed}"] if fed else []
    node = analysis.model.node.deep_replace(assignment.line, mark(assignment.line, call))
    message = f"replaced self.{anchor} = {short(assignment.value)} by {code(call)}; `remove {anchor}` restores it"
    return node, [message, *notes], None


def _text(channels: cst.BaseExpression | None) -> str | None:
    return code(channels) if channels is not None else None


def _channels(analysis: ClassAnalysis, position: Position, request: _Request):
    """``(expression, note)`` for the block's first argument; ``(None, None)`` when it takes none."""
    block = request.block
    if block.role == "layer" and block.params[:1] != ("channels",):
        return None, None
    if request.where.channels is not None:
        return (
            parse_expression(request.where.channels, "⟨channels⟩"),
            f"channels: {request.where.channels.strip()} (from ⟨channels⟩)",
        )
    after = position.mode == "after"
    if "." in position.anchor:
        slot = locate(analysis, position.anchor)
        channels, constructor = (slot.channels_out if after else slot.channels_in), short(slot.element)
        rule = None
    else:
        layer = analysis.layer(position.anchor)
        channels = output_channels(layer) if after else input_channels(layer)
        constructor = short(analysis.model.assignments[position.anchor].value)
        rule = layer.rule if layer else None
        if channels is None and analysis.category(position.anchor) == PASS:
            channels, rule = _fed_width(analysis, position.anchor)
    if channels is None:
        assignment = analysis.model.assignments.get(position.anchor)
        if assignment is None or assignment.branch is not None or position.mode != "after":
            raise WireError(_no_channels(analysis, position, constructor))
        raise ChannelsUnknown(
            _no_channels(analysis, position, constructor), analysis.name, position.anchor, code(assignment.value)
        )
    note = f"channels: {code(channels)}, read from {position.anchor} = {constructor}"
    return channels, note + (f" ({rule})" if rule else "")


def _check_channels(module: cst.Module, analysis: ClassAnalysis, position: Position, request: _Request) -> None:
    """``where.channels`` is written where the block is built: refuse names not in scope there, and calls."""
    model = analysis.model
    assignment = model.assignments.get(position.anchor.split(".")[0])
    if model.init is None or assignment is None:
        return
    after = position.mode == "after" and "." not in position.anchor  # a Sequential element is built inside it
    place = "in place of" if position.mode == "replace" else position.mode
    where = f"in {analysis.name}.__init__ {place} self.{position.anchor}"
    inherits = any(not base.startswith(TORCH_PREFIXES) for base in model.bases)
    notebook = request.index is not None and request.index.in_notebook
    scope = scope_at(module, model.node, model.init, assignment.statement, after, where, inherits, notebook)
    checked_channels(request.where.channels, scope)


def _fed_width(analysis: ClassAnalysis, anchor: str):
    """A layer that keeps its input's width (an activation, a pool) has the width of the layer feeding it.

    Every call of the anchor must be fed by a conv/norm layer, and all of them by the same width.
    """
    flow = analysis.flow()
    feeders = [chain.first_layer() for chain in (flow.inputs_of(anchor) if flow else ())]
    for attribute in dict.fromkeys(hit.attribute for hit in feeders if hit is not None):
        assignment = analysis.model.assignments.get(attribute)
        arms = _arm_widths(analysis, attribute) if assignment and assignment.branch is not None else []
        if None not in arms and len(set(arms)) > 1:  # fed by a layer built with another width in each arm of an if
            raise WireError(_widths_differ(analysis, attribute, arms, anchor))
    if not feeders or any(hit is None or hit.category != CONV for hit in feeders):
        return None, None
    widths = {
        attribute: output_channels(analysis.layer(attribute))
        for attribute in dict.fromkeys(hit.attribute for hit in feeders)
    }
    texts = {code(width) if width is not None else None for width in widths.values()}
    if len(texts) != 1 or None in texts:
        return None, None
    feeder, width = next(iter(widths.items()))
    return width, f"{anchor} keeps the width of {feeder}, which feeds it in forward"


def _no_channels(analysis: ClassAnalysis, position: Position, constructor: str) -> str:
    assignment = analysis.model.assignments.get(position.anchor)
    if assignment is not None and assignment.branch is not None:
        widths = _arm_widths(analysis, position.anchor)
        if None not in widths and len(set(widths)) > 1:
            return _widths_differ(analysis, position.anchor, widths)
        shown = ", ".join(width or "unknown" for width in widths)
        return (
            f"self.{position.anchor} is assigned in {len(widths)} arms of an if, with widths {shown}: "
            f"no single channel expression is known for all of them; pass ⟨channels⟩ EXPR valid in every arm"
        )
    return (
        f"cannot infer the channels {position.mode} {position.anchor} "
        f"({position.anchor} = {constructor}); pass ⟨channels⟩ EXPR"
    )


def _arm_widths(analysis: ClassAnalysis, attribute: str) -> list[str | None]:
    """The output width of each arm's value of an attribute assigned in the arms of an ``if``."""
    values = analysis.model.assignments[attribute].values
    widths = [output_channels(analysis.resolver.layer(value, analysis.scope)) for value in values]
    return [code(width) if width is not None else None for width in widths]


def _widths_differ(analysis: ClassAnalysis, attribute: str, widths: list[str], anchor: str | None = None) -> str:
    """Why no channel expression fits: the arms of an ``if`` build ``self.<attribute>`` with different widths."""
    through = f"{anchor} keeps the width of {attribute}, and " if anchor else ""
    return (
        f"{through}self.{attribute} is built with a different width in each arm of an if ({', '.join(widths)}), "
        f"so no single channel expression fits: a block built for one arm's width fails in the others. "
        f"Wire the block next to a layer whose width is the same whichever arm runs, or make the arms agree"
    )


def _default_message(analysis: ClassAnalysis, position: Position, request: _Request) -> str | None:
    if not position.default:
        return None
    verb = "replaces" if position.mode == "replace" else f"placed {position.mode}"
    block = request.block
    kxk = block.insert_at == "kxk"
    where = f"{block.class_name} goes after the k x k conv" if kxk else f"default for {block.role} blocks"
    return (
        f"{verb} {position.anchor} in {analysis.name} ({where}); "
        f"explicit: ⟨class_name⟩ {analysis.name} {position.requested}"
    )


def _attach(module: cst.Module, request: _Request) -> tuple[cst.Module, list[str]]:
    origin, block_name = request.origin, request.block.class_name
    if origin.inline_code is not None:
        return inline(module, block_name, origin.inline_code)
    if block_name in inlined_names(module):
        raise WireError(
            f"the file holds plugforge's inlined copy of {block_name}; wire with ⟨inline⟩ to use it, "
            "or remove the blocks that use it first"
        )
    module, message = add_import(module, block_name, origin.module, origin.level)
    return module, [message] if message else []


def remove(
    source: str, name: str, class_name: str | None = None, vendored: Callable[[str], bool] | None = None
) -> Result:
    """Undo ``add``: the attribute and its calls, the Sequential element, or the replaced line.

    Only what plugforge added is removed: a line it replaced (it keeps the original
    in a marker), or a construction of a block it inlined (between its markers) or
    imported. ``vendored`` tells whether an imported module (``blocks.se``,
    ``.blocks.se``) is one plugforge wrote; without it, any import from outside
    torch counts. ``removed_origins`` lists the block modules (``blocks.sk``,
    ``.blocks.sk``) whose import was dropped because nothing uses them any more.
    """
    document = parse(source)
    module = document.module
    name = name.strip()
    node = _class_holding(module, name, class_name, vendored)
    analysis = Resolver(module).analysis(node.name.value)
    assignment = analysis.model.assignments[name.split(".")[0]]
    if "." in name:
        _refuse_unless_added(module, analysis, name, vendored)
        new_node, block_name, messages = _remove_element(analysis, name)
    elif original_text(assignment.line):
        new_node, block_name, messages = _restore(analysis, assignment, module.default_indent)
    else:
        _refuse_unless_added(module, analysis, name, vendored)
        new_node, block_name, messages = _remove_attribute(analysis, assignment)
    module, origins, more = _drop_origin(_swap(module, node, new_node), block_name)
    return Result(document.render(module), messages + more, origins)


def _class_holding(module: cst.Module, name: str, class_name: str | None, vendored) -> cst.ClassDef:
    attribute = name.split(".")[0]
    if class_name is not None:
        candidates = [locating.select_class(module, class_name)]
    else:
        candidates = locating.module_classes(module)
    holding = [node for node in candidates if attribute in locating.ClassModel(node).assignments]
    if len(holding) == 1:
        return holding[0]
    if not holding:
        found = ", ".join(_removable(module, candidates, vendored)) or "none"
        raise WireError(f"nothing named {name!r} to remove; wired blocks found: {found}")
    choices = ", ".join(f"⟨class_name⟩ {node.name.value}" for node in holding)
    raise WireError(f"several classes have self.{attribute}; choose one: {choices}")


def _refuse_unless_added(module: cst.Module, analysis: ClassAnalysis, name: str, vendored) -> None:
    """``remove`` takes out what plugforge added and nothing else: a user's own layer is refused."""
    value = locate(analysis, name).element if "." in name else analysis.model.assignments[name].value
    if callee(value) in _block_names(module, vendored):
        return
    added = _removable(module, [analysis.model.node], vendored)
    listed = ", ".join(entry.split(" (in ")[0] + _replaced(entry) for entry in added)
    raise WireError(
        f"self.{name} = {short(value)} in {analysis.name} was not added by plugforge, so remove leaves it alone; "
        + (f"plugforge added to {analysis.name}: {listed}" if added else f"plugforge added nothing to {analysis.name}")
    )


def _replaced(entry: str) -> str:
    return " (a replaced layer)" if entry.endswith(", replaced)") else ""


def _block_names(module: cst.Module, vendored: Callable[[str], bool] | None) -> set[str]:
    """Classes plugforge put into the file: inlined between its markers, or imported from a block module it wrote."""
    imported = imported_block_names(module)
    if vendored is not None:
        origins = module_bindings(module)
        imported = {name for name in imported if vendored(origins[name].rpartition(".")[0] or origins[name])}
    return imported | inlined_names(module)


def _removable(module: cst.Module, classes: list[cst.ClassDef], vendored: Callable[[str], bool] | None) -> list[str]:
    """``name (in Class)`` for what looks wired: block instances and replaced lines."""
    blocks = _block_names(module, vendored)
    found = []
    for node in classes:
        for name, assignment in locating.ClassModel(node).assignments.items():
            if original_text(assignment.line):
                found.append(f"{name} (in {node.name.value}, replaced)")
                continue
            candidates = [(name, assignment.value), *paths(name, assignment.value)]
            found += [f"{path} (in {node.name.value})" for path, value in candidates if callee(value) in blocks]
    return found


def _remove_element(analysis: ClassAnalysis, path: str):
    slot = locate(analysis, path)
    node = analysis.model.node.deep_replace(slot.call, without_element(slot.call, slot.index))
    return node, callee(slot.element), [f"removed {code(slot.element)} ({path}) from {analysis.name}"]


def _restore(analysis: ClassAnalysis, assignment: locating.Assignment, default_indent: str):
    indent = indentation_of(analysis.model.node, assignment.line, default_indent)
    original = restore(assignment.line, indent)
    node = analysis.model.node.deep_replace(assignment.line, original)
    message = f"restored self.{assignment.name} = {short(original.body[0].value)} in {analysis.name}"
    return node, callee(assignment.value), [message]


def _remove_attribute(analysis: ClassAnalysis, assignment: locating.Assignment):
    name = assignment.name
    if assignment.count > 1:
        raise WireError(
            f"self.{name} is assigned {assignment.count} times in {analysis.name}.__init__; remove it by hand"
        )
    node = remove_line(analysis.model.node, assignment.line)
    node, count = unwrap_calls(node, name)
    left = locating.ClassModel(node).uses_of(name)
    if left.other:
        raise WireError(
            f"self.{name} is still used in {analysis.name} ({left.describe()}) besides calls; "
            f"remove that use by hand, then run remove again"
        )
    messages = [f"removed self.{name} = {code(assignment.value)} from {analysis.name}.__init__"]
    messages += [f"unwrapped {count} call(s) of self.{name}"] if count else []
    return node, callee(assignment.value), messages


def _drop_origin(module: cst.Module, block_name: str | None):
    """Remove the block's import or inlined code once nothing uses it: ``(module, origins, messages)``."""
    if not block_name or "." in block_name:
        return module, [], []
    if block_name in inlined_names(module):
        module, messages = remove_inlined(module, block_name)
        return module, [], messages
    if block_name in names_read(statement for statement in module.body if not is_import_line(statement)):
        return module, [], []
    module, origin = remove_import(module, block_name)
    if origin is None:
        return module, [], []
    return module, [origin], [f"removed the import of {block_name} from {origin}"]


def _swap(module: cst.Module, old: cst.ClassDef, new: cst.ClassDef) -> cst.Module:
    return module.with_changes(body=[new if statement is old else statement for statement in module.body])
