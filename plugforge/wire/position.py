"""Where a block goes: the ``Placement``'s ``after``, ``before`` or ``replace``, or the paper's default."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .analysis import ClassAnalysis
from .anchors import describe, list_anchors, workable
from .channels import CONV, OPAQUE, PASS, Layer, category
from .errors import WireError
from .layers import NORM
from .locate import ClassModel
from .nodes import literal_int, short
from .sequential import is_literal_sequential


@dataclass(frozen=True)
class Position:
    mode: str  # "after", "before" or "replace"
    anchor: str  # attribute, or "attr.i" for an element of a Sequential literal
    default: bool = False

    @property
    def requested(self) -> str:
        """The position as a request gives it, its field named for the caller to word: ``⟨after⟩ bn2``."""
        return f"⟨{self.mode}⟩ {self.anchor}"


def choose(
    analysis: ClassAnalysis, role: str, after: str | None, before: str | None, replace: str | None, at: str = "end"
) -> Position:
    for mode, anchor in (("after", after), ("before", before), ("replace", replace)):
        if anchor:
            check_anchor(analysis, anchor.strip(), mode)
            return Position(mode, anchor.strip())
    if role == "replace":
        position = Position("replace", default_replace(analysis), default=True)
    else:
        position = Position("after", after_kxk(analysis) if at == "kxk" else default_insert(analysis), default=True)
    check_anchor(analysis, position.anchor, position.mode)
    return position


def check_anchor(analysis: ClassAnalysis, anchor: str, mode: str) -> None:
    """Errors for anchors that do not exist or that forward never calls."""
    model = analysis.model
    model.require_forward()
    attribute = anchor.split(".")[0]
    if attribute not in model.assignments:
        raise WireError(f"{_missing(analysis, attribute)}; anchors:\n{_anchors(analysis)}")
    if model.assignments[attribute].count > 1:
        raise WireError(
            f"self.{attribute} is assigned {model.assignments[attribute].count} times in {model.name}.__init__, "
            f"so plugforge cannot tell which one to wire; choose another anchor:\n{_anchors(analysis)}"
        )
    if "." in anchor or mode == "replace":
        return
    uses = model.uses_of(anchor)
    if uses.calls == 0:
        options = ", ".join(f"⟨{mode}⟩ {name}" for name in workable(list_anchors(analysis)) if name != anchor)
        raise WireError(
            f"{anchor} is {uses.describe()} in {model.name}, never called directly, so there is no call to wrap; "
            f"wire next to a layer that forward calls: {options or 'none found'}"
        )


def default_insert(analysis: ClassAnalysis) -> str:
    """After the last conv/norm layer of the main branch, before the residual sum or return."""
    chain = _main_chain(analysis)
    hit = chain.first_layer()
    if hit is None:
        raise _no_default(analysis, _stop_reason(chain.stop))
    if hit.category != CONV:
        raise _no_default(
            analysis, f"its main branch ends in {_layer(analysis, hit.attribute)}, not a conv or norm layer"
        )
    return _inside_sequential(analysis, hit.attribute)


def after_kxk(analysis: ClassAnalysis) -> str:
    """After the main branch's last k x k conv, or after the norm that directly follows it."""
    conv = default_replace(analysis)
    hits = [hit.attribute for hit in _main_chain(analysis).hits]  # from the result backwards
    following = hits[hits.index(conv) - 1] if hits.index(conv) > 0 else None
    layer = analysis.layer(following) if following else None
    return following if layer is not None and layer.kind in NORM else conv


def default_replace(analysis: ClassAnalysis) -> str:
    """The last k x k (k > 1) nn.Conv2d of the main branch."""
    chain = _main_chain(analysis)
    for hit in chain.hits:
        if hit.category == OPAQUE:
            break
        layer = analysis.layer(hit.attribute)
        if not hit.swapped and layer and layer.kind == "Conv2d" and not layer.via_class and _kernel_above_one(layer):
            return hit.attribute
    raise _no_default(analysis, "no k x k nn.Conv2d (k > 1) feeds its result")


def _main_chain(analysis: ClassAnalysis):
    analysis.model.require_forward()
    return analysis.flow().main_chain()


def _inside_sequential(analysis: ClassAnalysis, attribute: str) -> str:
    """``attr.i`` for the last conv/norm element when ``attr`` is a Sequential literal."""
    node, layer = analysis.model.assignments[attribute].value, analysis.layer(attribute)
    path = attribute
    while is_literal_sequential(node) and layer is not None and layer.elements and not layer.built:
        index = _last_conv_index(layer.elements)
        if index is None:
            break
        path += f".{index}"
        node, layer = node.args[index].value, layer.elements[index]
    return path


def _last_conv_index(elements) -> int | None:
    for index in reversed(range(len(elements))):
        kind = category(elements[index])
        if kind == CONV:
            return index
        if kind not in (PASS, OPAQUE):
            return None
    return None


def _kernel_above_one(layer: Layer) -> bool:
    kernel = layer.args.get("kernel_size")
    values = [element.value for element in kernel.elements] if isinstance(kernel, cst.Tuple) else [kernel]
    return any((literal_int(value) or 0) > 1 for value in values)


def _stop_reason(stop: str | None) -> str:
    if stop is None:
        return "no conv or norm layer feeds the result of forward"
    return f"tracing forward's result back stops at {stop}"


def _layer(analysis: ClassAnalysis, attribute: str) -> str:
    assignment = analysis.model.assignments.get(attribute)
    return f"self.{attribute} = {short(assignment.value)}" if assignment else f"self.{attribute}"


def _no_default(analysis: ClassAnalysis, reason: str) -> WireError:
    return WireError(
        f"no default position in {analysis.name}: {reason}; "
        f"choose one with ⟨after⟩/⟨before⟩ ATTR (⟨replace⟩ ATTR for replace blocks). Anchors:\n{_anchors(analysis)}"
    )


def _missing(analysis: ClassAnalysis, attribute: str) -> str:
    """Why ``self.<attribute>`` cannot be wired here; for an inherited one, the base class that assigns it."""
    owner = _assigned_by_base(analysis, attribute)
    if owner is None:
        return analysis.model.missing(attribute)
    base, path, calls = owner
    elsewhere = path is not None and path != getattr(analysis.resolver.file, "path", None)
    where, into = (f" (in {path})", f" ⟨path⟩ {path}") if elsewhere else ("", "")
    inherited = f"{analysis.name}.__init__ does not assign self.{attribute}: it is inherited from {base}{where}"
    if not analysis.model.uses_of(attribute).calls:
        return f"{inherited}, which assigns {'and calls ' if calls else ''}it; wire it there: ⟨class_name⟩ {base}{into}"
    return (
        f"{inherited}, which assigns it, while {analysis.name}.forward calls it, so neither class alone can take "
        f"the block; wire next to a layer {analysis.name} assigns itself, or assign self.{attribute} in "
        f"{analysis.name}.__init__"
    )


def _assigned_by_base(analysis: ClassAnalysis, attribute: str):
    """``(class name, file, calls there)`` of the nearest base class whose ``__init__`` assigns the attribute, if found."""
    todo, seen = [(analysis.resolver, base) for base in analysis.model.bases], set()
    while todo:
        resolver, base = todo.pop(0)
        found = resolver.definition(base)
        if found is None or (id(found[0]), found[1]) in seen or found[1] not in found[0].classes:
            continue
        seen.add((id(found[0]), found[1]))
        owner, name = found
        model = ClassModel(owner.classes[name])
        if attribute in model.assignments:
            return name, getattr(owner.file, "path", None), model.uses_of(attribute).calls
        todo += [(owner, next_base) for next_base in model.bases]
    return None


def _anchors(analysis: ClassAnalysis) -> str:
    return describe(list_anchors(analysis))
