"""Finding things in a model file: nn.Module classes, their attributes and uses."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .errors import WireError
from .layers import TORCH_PREFIXES
from .inline import inlined_names
from .nodes import (
    assigned_self_attribute,
    called_self_attribute,
    child_suites,
    dotted_name,
    nested_statements,
    self_attribute,
    small_statements,
)

MODULE_BASES = {"nn.Module", "torch.nn.Module", "Module"}


def module_classes(module: cst.Module) -> list[cst.ClassDef]:
    """Top-level classes deriving from nn.Module, directly, via torch.nn or via the file.

    Blocks inlined by plugforge are not the user's model classes and are left out.
    A class defined twice counts once, as the last definition: the one Python uses.
    """
    inlined = inlined_names(module)
    classes = [node for node in module.body if isinstance(node, cst.ClassDef) and node.name.value not in inlined]
    last = {node.name.value: node for node in classes}
    classes = [node for node in classes if last[node.name.value] is node]
    found: dict[str, cst.ClassDef] = {}
    changed = True
    while changed:
        changed = False
        for node in classes:
            if node.name.value not in found and any(_is_module_base(base, found) for base in node.bases):
                found[node.name.value] = node
                changed = True
    return [node for node in classes if node.name.value in found]


def _is_module_base(base: cst.Arg, known: dict[str, cst.ClassDef]) -> bool:
    name = dotted_name(base.value) or ""
    return name in MODULE_BASES or name.startswith(("nn.", "torch.nn.")) or name in known


def select_class(module: cst.Module, class_name: str | None) -> cst.ClassDef:
    """The class to wire into; ``None`` is fine when the file has exactly one."""
    classes = module_classes(module)
    names = [node.name.value for node in classes]
    if class_name is None and len(classes) == 1:
        return classes[0]
    if class_name in names:
        return classes[names.index(class_name)]
    derived = [node for node in module.body if isinstance(node, cst.ClassDef) and node.name.value == class_name]
    if derived and derived[-1].bases:  # named explicitly: its base may be a module class imported from elsewhere
        return derived[-1]
    if not classes:
        raise WireError("no nn.Module subclass found in the file; point ⟨path⟩ at the file that defines the model")
    choices = ", ".join(f"⟨class_name⟩ {name}" for name in names)
    if class_name is None:
        raise WireError(f"the file defines {len(names)} nn.Module classes; choose one: {choices}")
    raise WireError(f"no nn.Module class {class_name!r} in the file; choose one of: {choices}")


@dataclass
class Assignment:
    """``self.<name> = <value>`` in ``__init__``.

    An attribute assigned once in each arm of one ``if`` (``if dw: self.conv = A
    else: self.conv = B``) is one assignment: ``values`` holds every arm's value and
    ``branch`` the ``if``, after which a block goes.
    """

    name: str
    line: cst.SimpleStatementLine
    value: cst.BaseExpression
    count: int = 1
    values: tuple[cst.BaseExpression, ...] = ()
    branch: cst.If | None = None

    @property
    def statement(self) -> cst.BaseStatement:
        """The statement a block is constructed next to."""
        return self.branch or self.line


@dataclass
class Uses:
    """How the methods other than ``__init__`` use ``self.<name>``."""

    calls: int = 0
    other: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.calls:
            return f"called {self.calls}x"
        return "; ".join(dict.fromkeys(self.other)) or "never called"


class ClassModel:
    """The structure of one nn.Module class: its methods, attributes and their uses."""

    def __init__(self, node: cst.ClassDef) -> None:
        self.node = node
        self.name = node.name.value
        self.methods = {
            statement.name.value: statement for statement in node.body.body if isinstance(statement, cst.FunctionDef)
        }
        self.init = self.methods.get("__init__")
        self.forward = self.methods.get("forward")
        self.assignments = _init_assignments(self.init)
        self.uses = _uses(method for name, method in self.methods.items() if name != "__init__")
        self.class_level_names = set(self.methods) | _class_level_names(node)

    def uses_of(self, name: str) -> Uses:
        return self.uses.get(name, Uses())

    def require_forward(self) -> cst.FunctionDef:
        if self.forward is None:
            raise WireError(self._no_forward())
        return self.forward

    @property
    def bases(self) -> list[str]:
        """The classes this one derives from, nn.Module left out."""
        return [name for base in self.node.bases if (name := dotted_name(base.value)) and name not in MODULE_BASES]

    def missing(self, attribute: str) -> str:
        """Why ``self.<attribute>`` cannot be wired here, when ``__init__`` does not assign it."""
        user_bases = [base for base in self.bases if not base.startswith(TORCH_PREFIXES)]
        if not user_bases:
            return f"{self.name} has no attribute {attribute!r} assigned in __init__"
        base = user_bases[0]
        return (
            f"{self.name}.__init__ does not assign self.{attribute}: it is inherited from {', '.join(user_bases)}, "
            f"and plugforge wires the class that assigns it; wire {base} (⟨class_name⟩ {base} in the file that "
            "defines it)"
        )

    def _no_forward(self) -> str:
        bases = self.bases
        if not bases:
            return f"{self.name} has no forward method; choose the class that runs the layers with ⟨class_name⟩"
        if bases[0].startswith(TORCH_PREFIXES):
            return (
                f"{self.name} has no forward method of its own (it runs as {bases[0]}); wire it from the class "
                f"that uses it, with ⟨after⟩ the attribute that holds it there"
            )
        return (
            f"{self.name} has no forward method of its own: it inherits forward from {', '.join(bases)}, "
            f"and plugforge wires the class whose forward calls the layer; wire {bases[0]} (⟨class_name⟩ {bases[0]} "
            f"in the file that defines it), or give {self.name} its own forward first"
        )


def _init_assignments(init: cst.FunctionDef | None) -> dict[str, Assignment]:
    found: dict[str, Assignment] = {}
    if init is None:
        return found
    places: dict[str, list[tuple[cst.BaseStatement, int]]] = {}  # (top-level statement, arm)
    values: dict[str, list[cst.BaseExpression]] = {}
    for top in getattr(init.body, "body", ()):
        for arm, line in _lines_by_arm(top):
            assigned = assigned_self_attribute(line)
            if assigned:
                name, value = assigned
                places.setdefault(name, []).append((top, arm))
                values.setdefault(name, []).append(value)
                found.setdefault(name, Assignment(name, line, value))
    for name, assignment in found.items():
        assignment.count, assignment.values = len(places[name]), tuple(values[name])
        tops = {id(top) for top, _ in places[name]}
        arms = [arm for _, arm in places[name]]
        top = places[name][0][0]
        if len(arms) > 1 and len(tops) == 1 and isinstance(top, cst.If) and len(set(arms)) == len(arms):
            assignment.count, assignment.branch = 1, top
    return found


def _lines_by_arm(top: cst.BaseStatement):
    """``(arm, statement)`` for a top-level statement and everything nested in it; arm 0 is the statement itself."""
    yield 0, top
    for arm, suite in enumerate(child_suites(top), start=1):
        for line in nested_statements(suite):
            yield arm, line


def _class_level_names(node: cst.ClassDef) -> set[str]:
    names = set()
    for line in node.body.body:
        for statement in small_statements(line):
            if isinstance(statement, cst.Assign):
                names |= {dotted_name(target.target) or "" for target in statement.targets}
            elif isinstance(statement, cst.AnnAssign):
                names.add(dotted_name(statement.target) or "")
    return names - {""}


def _uses(methods) -> dict[str, Uses]:
    collector = _UseCollector()
    for method in methods:
        method.visit(collector)
    return collector.uses


class _UseCollector(cst.CSTVisitor):
    """Counts ``self.x(...)`` calls and describes the other references to ``self.x``."""

    def __init__(self) -> None:
        self.uses: dict[str, Uses] = {}
        self._described: set[int] = set()

    def _use(self, name: str) -> Uses:
        return self.uses.setdefault(name, Uses())

    def visit_Call(self, node: cst.Call) -> None:
        name = called_self_attribute(node)
        if name:
            self._use(name).calls += 1
            self._described.add(id(node.func))
        function = dotted_name(node.func) or "a function"
        for arg in node.args:
            passed = self_attribute(arg.value)
            if passed and id(arg.value) not in self._described:
                self._use(passed).other.append(f"passed to {function}()")
                self._described.add(id(arg.value))

    def visit_For(self, node: cst.For) -> None:
        name = self_attribute(node.iter)
        if name:
            self._use(name).other.append("iterated")
            self._described.add(id(node.iter))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = self_attribute(node)
        if name and id(node) not in self._described:
            self._use(name).other.append("used without a call")
