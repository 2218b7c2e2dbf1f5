"""Resolving constructors of a file to layers, and analysing one class with them.

The two are mutually recursive: an instance of a class defined in the file
(``Conv(c1, c2, 3)``) is resolved by analysing that class's ``forward``.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from . import layers
from .channels import CONV, LINEAR, OPAQUE, PASS, Layer, bind, category, input_channels, instantiate
from .flow import Flow
from .locate import ClassModel
from .nodes import callee, nested_statements, small_statements


class Resolver:
    """Resolves constructor expressions of one module to layers."""

    def __init__(self, module: cst.Module) -> None:
        self.functions = {node.name.value: node for node in module.body if isinstance(node, cst.FunctionDef)}
        self.classes = {node.name.value: node for node in module.body if isinstance(node, cst.ClassDef)}
        self._templates: dict[str, tuple | None] = {}
        self._analyses: dict[str, ClassAnalysis] = {}
        self._resolving: set[str] = set()

    def layer(self, expression: cst.BaseExpression) -> Layer | None:
        if isinstance(expression, cst.IfExp):
            return self._either(expression)
        if not isinstance(expression, cst.Call):
            return None
        name = callee(expression) or ""
        if name in self.functions or name in self.classes:
            return self._through_definition(name, expression)
        torch = layers.torch_layer(name)
        if torch == "Sequential":
            return self._sequential(expression)
        if torch in layers.SIGNATURES:
            return Layer(torch, bind(expression, layers.SIGNATURES[torch]))
        if torch in layers.CHANNEL_PRESERVING:
            return Layer(torch)
        if torch is None and layers.looks_like_norm(name):
            return Layer(layers.NORM_LIKE, bind(expression, layers.SIGNATURES[layers.NORM_LIKE]))
        return None

    def analysis(self, class_name: str) -> ClassAnalysis:
        if class_name not in self._analyses:
            self._analyses[class_name] = ClassAnalysis(self.classes[class_name], self)
        return self._analyses[class_name]

    def _either(self, expression: cst.IfExp) -> Layer | None:
        """``nn.SiLU() if act else nn.Identity()`` keeps channels if every known branch does."""
        known = [layer for layer in (self.layer(expression.body), self.layer(expression.orelse)) if layer]
        return known[0] if known and all(category(layer) == PASS for layer in known) else None

    def _sequential(self, call: cst.Call) -> Layer:
        if any(arg.star or arg.keyword for arg in call.args) or _is_ordered_dict(call):
            return Layer("Sequential")
        return Layer("Sequential", elements=tuple(self.layer(arg.value) for arg in call.args))

    def _through_definition(self, name: str, call: cst.Call) -> Layer | None:
        template = self._template(name)
        if template is None:
            return None
        layer, parameters, defaults, hidden = template
        arguments = bind(call, parameters, defaults)
        unbound = set(parameters) - set(arguments)
        return instantiate(layer, arguments, hidden | unbound)

    def _template(self, name: str) -> tuple | None:
        """The layer a helper or class produces, in its own terms, and how to call it."""
        if name in self._templates:
            return self._templates[name]
        if name in self._resolving:
            return None
        self._resolving.add(name)
        try:
            template = self._function_template(name) if name in self.functions else self._class_template(name)
        finally:
            self._resolving.discard(name)
        self._templates[name] = template
        return template

    def _function_template(self, name: str) -> tuple | None:
        function = self.functions[name]
        lines = nested_statements(function.body)
        returns = [s for line in lines for s in small_statements(line) if isinstance(s, cst.Return)]
        if len(returns) != 1 or returns[0].value is None:
            return None
        layer = self.layer(returns[0].value)
        return _signature(layer, function, skip_first=False) if layer else None

    def _class_template(self, name: str) -> tuple | None:
        analysis = self.analysis(name)
        output, init = analysis.output_layer(), analysis.model.init
        if output is None or init is None:
            return None
        layer = replace(output, via_class=True, input=analysis.input_layer())
        return _signature(layer, init, skip_first=True)


def _signature(layer: Layer, function: cst.FunctionDef, skip_first: bool) -> tuple:
    """``(layer, positional parameter names, defaults, names hidden from callers)``."""
    params = function.params
    positional = [*params.posonly_params, *params.params][1 if skip_first else 0 :]
    every = [*positional, *params.kwonly_params]
    defaults = {param.name.value: param.default for param in every if param.default is not None}
    hidden = _local_names(function) | {"self", "cls"}
    hidden -= {param.name.value for param in every}
    return layer, [param.name.value for param in positional], defaults, hidden


def _local_names(function: cst.FunctionDef) -> set[str]:
    names: set[str] = set()
    for line in nested_statements(function.body):
        for statement in small_statements(line):
            targets = [t.target for t in getattr(statement, "targets", ())]
            targets += [statement.target] if isinstance(statement, (cst.AnnAssign, cst.AugAssign)) else []
            names |= {name for target in targets for name in _target_names(target)}
        if isinstance(line, cst.For):
            names |= _target_names(line.target)
    return names


def _target_names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {name for element in target.elements for name in _target_names(element.value)}
    return set()


def _is_ordered_dict(call: cst.Call) -> bool:
    return len(call.args) == 1 and (callee(call.args[0].value) or "").endswith("OrderedDict")


class ClassAnalysis:
    """One nn.Module class with its attributes resolved to layers."""

    def __init__(self, node: cst.ClassDef, resolver: Resolver) -> None:
        self.model = ClassModel(node)
        self.resolver = resolver
        self._layers: dict[str, Layer | None] = {}
        self._flow: Flow | None = None

    @property
    def name(self) -> str:
        return self.model.name

    def layer(self, attribute: str) -> Layer | None:
        if attribute not in self._layers:
            assignment = self.model.assignments.get(attribute)
            self._layers[attribute] = self.resolver.layer(assignment.value) if assignment else None
        return self._layers[attribute]

    def category(self, attribute: str) -> str:
        kind = category(self.layer(attribute))
        if kind == OPAQUE and self.layer(attribute) is None and layers.looks_like_activation(attribute):
            return PASS
        return kind

    def flow(self) -> Flow | None:
        if self._flow is None and self.model.forward is not None:
            self._flow = Flow(self.model.forward, self.category)
        return self._flow

    def output_layer(self) -> Layer | None:
        """The conv/norm/linear layer whose result ``forward`` returns."""
        flow = self.flow()
        for hit in flow.output_chain().hits if flow else ():
            if hit.swapped or hit.category == PASS:
                continue
            return self.layer(hit.attribute) if hit.category in (CONV, LINEAR) else None
        return None

    def input_layer(self) -> Layer | None:
        """The first layer of ``__init__`` that says how many channels it takes."""
        for name in self.model.assignments:
            if input_channels(self.layer(name)) is not None:
                return self.layer(name)
        return None
