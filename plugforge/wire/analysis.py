"""Resolving constructors of a file to layers, and analysing one class with them.

The two are mutually recursive: an instance of a class defined in the file
(``Conv(c1, c2, 3)``) is resolved by analysing that class's ``forward``.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from . import layers
from .channels import (
    CONV,
    LINEAR,
    OPAQUE,
    PASS,
    Layer,
    bind,
    by_convention,
    category,
    input_channels,
    instantiate,
    layer_names,
    output_channels,
)
from .flow import Flow
from .locate import MODULE_BASES, Assignment, ClassModel
from .modules import ModuleFile, ModuleIndex
from .nodes import (
    BUILTINS,
    callee,
    code,
    dotted_name,
    free_names,
    nested_statements,
    self_attribute,
    small_statements,
)
from .scope import EMPTY, Scope, alternatives, factory_call, list_elements, scope_of

MAX_DEPTH = 12  # imports and re-exports followed to reach one definition


class Workspace:
    """The resolvers of every module reached from one model file, each made once."""

    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self._resolvers: dict[str, Resolver | None] = {}

    def resolver(self, name: str) -> Resolver | None:
        if name not in self._resolvers:
            file = self.index.load(name)
            self._resolvers[name] = Resolver(file=file, workspace=self) if file else None
        return self._resolvers[name]

    def definition(self, dotted: str, depth: int) -> tuple[Resolver, str] | None:
        """The module and name that define ``pkg.mod.Name``, through re-exports."""
        parts = dotted.split(".")
        if len(parts) < 2:
            return None
        resolver = self.resolver(".".join(parts[:-1]))
        return resolver.definition(parts[-1], depth) if resolver else None


class Resolver:
    """Resolves constructor expressions of one module to layers.

    With a ``workspace``, names imported from other modules (``from .conv import
    Conv``, ``md.Conv2dReLU``) are followed to their definitions; without one, only
    the definitions of the file itself are.
    """

    def __init__(
        self, module: cst.Module | None = None, file: ModuleFile | None = None, workspace: Workspace | None = None
    ) -> None:
        source = file or ModuleFile.parsed("", None, False, module)
        self.functions, self.classes = source.functions, source.classes
        self.file, self.workspace = file, workspace
        self.imports = source.imports if workspace and file else {}
        self._templates: dict[str, tuple | None] = {}
        self._analyses: dict[str, ClassAnalysis] = {}
        self._resolving: set[str] = set()

    def layer(self, expression: cst.BaseExpression, scope: Scope = EMPTY, owner: str | None = None) -> Layer | None:
        """The layer ``expression`` builds, reading the names of ``scope`` (the enclosing function)."""
        if isinstance(expression, cst.IfExp):
            return self._either(expression, scope)
        if isinstance(expression, cst.Name) and expression.value in scope:
            values = scope.values[expression.value]
            return self.one_of(values, scope.without(expression.value), owner=expression.value) if values else None
        if not isinstance(expression, cst.Call):
            return None
        if isinstance(expression.func, cst.Attribute) and expression.func.attr.value in layers.RETURNS_SELF:
            return self.layer(expression.func.value, scope, owner)  # nn.Conv2d(...).requires_grad_(False)
        name = callee(expression) or ""
        if name in scope:
            return self._factory(name, expression, scope)
        found = self._defined(name, expression)
        if found is not None:
            return found
        torch = layers.torch_layer(name)
        if torch == "Sequential":
            return self._sequential(expression, scope, owner)
        if torch in layers.SIGNATURES:
            return Layer(torch, bind(expression, layers.SIGNATURES[torch]))
        if torch in layers.CHANNEL_PRESERVING:
            return Layer(torch)
        if torch is None and layers.looks_like_norm(name):
            return Layer(layers.NORM_LIKE, bind(expression, layers.SIGNATURES[layers.NORM_LIKE]))
        return _by_name(name or _subscripted(expression), expression)

    def analysis(self, class_name: str) -> ClassAnalysis:
        if class_name not in self._analyses:
            self._analyses[class_name] = ClassAnalysis(self.classes[class_name], self)
        return self._analyses[class_name]

    def definition(self, name: str, depth: int = 0) -> tuple[Resolver, str] | None:
        """The resolver and name defining ``name`` (``Conv``, ``md.Conv2dReLU``) as seen from this module."""
        if name in self.functions or name in self.classes:
            return self, name
        head, _, rest = name.partition(".")
        target = self.imports.get(head)
        if target is None or self.workspace is None or self.file is None or depth >= MAX_DEPTH:
            return None
        dotted = self.file.absolute(target) + (f".{rest}" if rest else "")
        return self.workspace.definition(dotted, depth + 1)

    def _either(self, expression: cst.IfExp, scope: Scope) -> Layer | None:
        return self.one_of((expression.body, expression.orelse), scope)

    def one_of(self, values, scope: Scope, owner: str | None = None) -> Layer | None:
        """The layer of whichever value is built (``A if cond else B``, one per arm or return).

        All must agree on the width; a value that keeps the width (an identity, an
        activation, None) agrees with a conv: ``Conv(c_, c2) if c_ != c2 else
        nn.Identity()`` reads as the conv.
        """
        found = [(value, self.layer(value, scope, owner)) for value in values]
        kinds = {category(layer) if layer else (PASS if _is_none(value) else OPAQUE) for value, layer in found}
        widths = {_text(output_channels(layer)) for _, layer in found if layer and category(layer) != PASS}
        layers_found = [layer for _, layer in found if layer]
        if kinds == {PASS}:
            return layers_found[0] if layers_found else None
        if OPAQUE in kinds or len(kinds - {PASS}) != 1 or len(widths) != 1 or None in widths:
            return None
        layer = next(layer for layer in layers_found if category(layer) != PASS)
        if PASS in kinds:
            kept = next(code(value) for value, layer in found if category(layer) == PASS or layer is None)
            return replace(layer, rule=f"{kept} in another branch keeps the width")
        return layer

    def _factory(self, name: str, call: cst.Call, scope: Scope) -> Layer | None:
        """``norm_layer(planes)`` through the values ``norm_layer`` may hold; by argument names if none is known."""
        found = []
        for value in scope.values[name]:
            direct = factory_call(call, value)
            layer = self.layer(direct[0], scope.without(name)) if direct else None
            if layer is not None:
                found.append((direct[1], layer))
        outputs = {(category(layer), _text(output_channels(layer))) for _, layer in found}
        if len(outputs) == 1 and None not in next(iter(outputs)):
            target, layer = found[0]
            return replace(layer, rule=f"{name} defaults to {target}")
        return _by_name(name, call)

    def _sequential(self, call: cst.Call, scope: Scope, owner: str | None) -> Layer:
        """Elements of ``nn.Sequential(...)``, also when built in steps (a list, add_module, OrderedDict)."""
        values, built = _sequential_arguments(call, scope)
        added = scope.added.get(owner, ()) if owner else ()
        if values is None:
            return Layer("Sequential")
        elements = tuple(self.layer(value, scope) for value in (*values, *added))
        return Layer("Sequential", elements=elements, built=built or bool(added))

    def _defined(self, name: str, call: cst.Call) -> Layer | None:
        found = self.definition(name)
        if found is None:
            return None
        resolver, definition = found
        return resolver._through_definition(definition, call, foreign=resolver is not self)

    def _through_definition(self, name: str, call: cst.Call, foreign: bool = False) -> Layer | None:
        template = self._template(name)
        if template is None:
            return None
        layer, parameters, defaults, hidden = template
        layer = replace(layer, rule=f"{name} from {self.file.name}" if foreign else None)
        if foreign:  # the definition's own module-level names do not exist in the caller's file
            hidden = hidden | (layer_names(layer) - set(parameters) - BUILTINS)
            defaults = {key: value for key, value in defaults.items() if not free_names(value)}
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
        returns = [s.value for line in lines for s in small_statements(line) if isinstance(s, cst.Return)]
        if not returns or None in returns:
            return None
        layer = self.one_of(returns, scope_of(function))
        return _signature(layer, function, skip_first=False) if layer else None

    def _class_template(self, name: str) -> tuple | None:
        analysis = self.analysis(name)
        init = analysis.model.init
        output = analysis.output_layer() or analysis.base_layer() or analysis.sliced_output()
        if output is None or init is None:
            return None
        layer = replace(output, via_class=True, input=analysis.input_layer() or output.input)
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


def _sequential_arguments(call: cst.Call, scope: Scope) -> tuple[list | None, bool]:
    """``(layer expressions, built)`` of a Sequential call; None where they cannot be known.

    ``built`` is true when the expressions are not the call's own arguments one to one:
    ``nn.Sequential(*layers)``, ``nn.Sequential(*(Block(c) for _ in range(n)))`` or
    ``nn.Sequential(OrderedDict([("conv", ...), ...]))``.
    """
    if len(call.args) == 1 and (callee(call.args[0].value) or "").endswith("OrderedDict"):
        return _ordered_dict_values(call.args[0].value, scope), True
    if len(call.args) == 1 and _is_dict_built_in_steps(call.args[0].value, scope):
        return list(scope.added[call.args[0].value.value]), True
    values, built = [], False
    for arg in call.args:
        if arg.keyword is not None:
            return None, True
        if not arg.star:
            values.append(arg.value)
            continue
        built = True
        if isinstance(arg.value, cst.Name) and arg.value.value in scope.added:
            values += scope.added[arg.value.value]
        elif isinstance(arg.value, (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp)):
            values += list_elements(arg.value)
        else:
            return None, True
    return values, built


def _is_dict_built_in_steps(value: cst.BaseExpression, scope: Scope) -> bool:
    """``layers`` after ``layers = OrderedDict()`` and ``layers["conv"] = ...``."""
    if not isinstance(value, cst.Name) or not scope.added.get(value.value):
        return False
    return any((callee(start) or "").endswith(("OrderedDict", "dict")) for start in scope.values.get(value.value, ()))


def _ordered_dict_values(call: cst.Call, scope: Scope) -> list | None:
    """Values of ``OrderedDict([("a", x), ...])``, ``OrderedDict(a=x, ...)`` or ``OrderedDict(pairs)``."""
    if all(arg.keyword is not None for arg in call.args):
        return [arg.value for arg in call.args]
    if len(call.args) != 1:
        return None
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value in scope.added:
        pairs = list(scope.added[value.value])
    elif isinstance(value, (cst.List, cst.Tuple)):
        pairs = [element.value for element in value.elements]
    else:
        return None
    if not all(isinstance(pair, cst.Tuple) and len(pair.elements) == 2 for pair in pairs):
        return None
    return [pair.elements[1].value for pair in pairs]


def _by_name(name: str, call: cst.Call) -> Layer | None:
    """A factory nothing more is known of: a conv or norm by its argument names, or an activation."""
    if layers.factory_kind(name) is None and layers.looks_like_activation(name.rsplit(".", 1)[-1]):
        return Layer("Identity", rule=f"{name} read as an activation by its name")
    return by_convention(name, call)


def _builds_layers(base: cst.BaseExpression, resolver: Resolver) -> bool:
    name = dotted_name(base) or ""
    return layers.torch_layer(name) is not None or (name not in MODULE_BASES and resolver.definition(name) is not None)


def _built_from(call: cst.Call, width: str) -> bool:
    """Whether ``call`` is given ``width`` and no other argument named like a channel count."""
    values = [arg.value for arg in call.args if not arg.star]
    named = {*layers.OUTPUT_NAMES, *layers.INPUT_NAMES}
    others = [value for value in values if isinstance(value, cst.Name) and value.value in named]
    return any(code(value) == width for value in values) and all(code(value) == width for value in others)


def _channel_slice(subscript: cst.Subscript) -> cst.BaseExpression | None:
    """``n`` for ``x[:, :n]`` or ``x[:, :n, :, :]``."""
    if len(subscript.slice) < 2 or not all(isinstance(element.slice, cst.Slice) for element in subscript.slice):
        return None
    batch, channels = subscript.slice[0].slice, subscript.slice[1].slice
    if batch.lower or batch.upper or channels.lower or channels.step or channels.upper is None:
        return None
    return channels.upper


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _subscripted(call: cst.Call) -> str:
    """``Conv`` for ``Conv[Conv.CONV, 2](...)``: a factory looked up by key."""
    func = call.func
    return (dotted_name(func.value) or "") if isinstance(func, cst.Subscript) else ""


def _text(node: cst.BaseExpression | None) -> str | None:
    return code(node) if node is not None else None


def _super_init_call(init: cst.FunctionDef) -> cst.Call | None:
    """``super().__init__(...)`` or ``Base.__init__(self, ...)`` in ``__init__``."""
    for line in nested_statements(init.body):
        for statement in small_statements(line):
            call = statement.value if isinstance(statement, cst.Expr) else None
            if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
                continue
            if call.func.attr.value != "__init__":
                continue
            if callee(call.func.value) == "super":
                return call
            if call.args and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "self":
                return call.with_changes(args=call.args[1:])
    return None


class ClassAnalysis:
    """One nn.Module class with its attributes resolved to layers."""

    def __init__(self, node: cst.ClassDef, resolver: Resolver) -> None:
        self.model = ClassModel(node)
        self.resolver = resolver
        self.scope = scope_of(self.model.init)
        self._layers: dict[str, Layer | None] = {}
        self._flow: Flow | None = None

    @property
    def name(self) -> str:
        return self.model.name

    def layer(self, attribute: str) -> Layer | None:
        if attribute not in self._layers:
            assignment = self.model.assignments.get(attribute)
            self._layers[attribute] = self._resolve(assignment) if assignment else None
        return self._layers[attribute]

    def _resolve(self, assignment: Assignment) -> Layer | None:
        """The layer assigned; for one assigned in every arm of an ``if``, the one all arms agree on."""
        layer = self.resolver.one_of(assignment.values, self.scope, f"self.{assignment.name}")
        if len(assignment.values) > 1 and layer is not None and layer.rule is None:
            return replace(layer, rule=f"the same in every arm of the if that assigns self.{assignment.name}")
        return layer

    def category(self, attribute: str) -> str:
        kind = category(self.layer(attribute))
        if kind == OPAQUE and self.layer(attribute) is None and layers.looks_like_activation(attribute):
            return PASS
        return kind

    def flow(self) -> Flow | None:
        if self._flow is None and self.model.forward is not None:
            self._flow = Flow(self.model.forward, self.category, self.keeps_width)
        return self._flow

    def keeps_width(self, attribute: str, feeder: str) -> bool:
        """Whether a layer of unknown kind keeps the width of the conv feeding it.

        It does when it is built from that width and from no other channel-named
        argument: ``self.attn = Attention(kind, in_channels=out_channels)`` after
        ``self.conv = Conv(c, out_channels)``; ``LayerScale2d(out_chs, 1e-5)``.
        """
        width = output_channels(self.layer(feeder))
        assignment = self.model.assignments.get(attribute)
        if width is None or assignment is None:
            return False
        options = [option for value in assignment.values for option in alternatives(value)]
        calls = [
            call
            for call in options
            if isinstance(call, cst.Call) and category(self.resolver.layer(call, self.scope)) != PASS
        ]
        return bool(calls) and all(_built_from(call, code(width)) for call in calls)

    def output_layer(self) -> Layer | None:
        """The conv/norm/linear layer whose result ``forward`` returns."""
        flow = self.flow()
        hit = flow.output_chain().first_layer() if flow else None
        return self.layer(hit.attribute) if hit and hit.category in (CONV, LINEAR) else None

    def base_layer(self) -> Layer | None:
        """What a subclass builds through its base (``class Conv2dReLU(nn.Sequential)``, ``class DWConv(Conv)``)."""
        init = self.model.init
        bases = [base.value for base in self.model.node.bases if _builds_layers(base.value, self.resolver)]
        call = _super_init_call(init) if init is not None and len(bases) == 1 else None
        if call is None:
            return None
        return self.resolver.layer(call.with_changes(func=bases[0]), self.scope, owner="self")

    def sliced_output(self) -> Layer | None:
        """``return out[:, : self.out_chs]``: the first ``out_chs`` channels, whatever ``out`` was (GhostNet)."""
        flow = self.flow()
        returned = flow.returned() if flow else None
        width = _channel_slice(returned) if isinstance(returned, cst.Subscript) else None
        attribute = self_attribute(width) if width is not None else None
        assignment = self.model.assignments.get(attribute or "")
        if assignment is None or assignment.count != 1:
            return None
        rule = f"forward returns the first self.{attribute} channels"
        return Layer(layers.CONVENTION, {"out_channels": assignment.value}, rule=rule)

    def input_layer(self) -> Layer | None:
        """The first layer of ``__init__`` that says how many channels it takes."""
        for name in self.model.assignments:
            if input_channels(self.layer(name)) is not None:
                return self.layer(name)
        return None
