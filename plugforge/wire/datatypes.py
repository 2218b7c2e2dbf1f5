"""Plain data passed in and out of the wiring API."""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from .errors import PlacementError

POSITIONS = ("after", "before", "replace")


@dataclass(frozen=True)
class Block:
    """What the wiring needs to know about a block class.

    Insert-role blocks receive the channel expression as their first positional
    argument; ``kwargs`` are extra constructor arguments as source expressions.
    ``same_channels`` names keyword parameters that receive the channel
    expression too: a shape-preserving block whose output width is a
    parameter of its own (ASPP's ``out_channels``). ``rules`` are ``(rule, why)``
    pairs its constructor arguments must satisfy (Python expressions over parameter
    names), checked by ``Placement.replace`` against the replaced layer's arguments with the
    ``settings``: every parameter's own value (default or chosen) as source.
    ``resample``: ``("down", factor)`` or ``("up", factor)`` for a block that changes the
    map size, the factor a parameter name or a literal (see ``resample``).
    ``sequences`` names the parameters that take a sequence (MixConv's kernel
    sizes): a replaced layer's int for one is its only item.
    """

    class_name: str
    role: str
    params: tuple[str, ...]
    kwargs: dict[str, str] = field(default_factory=dict)
    same_channels: tuple[str, ...] = ()
    insert_at: str = "end"  # default position: "end" of the main branch, or after its "kxk" conv
    rules: tuple[tuple[str, str], ...] = ()
    settings: dict[str, str] = field(default_factory=dict)
    resample: tuple[str, str] | tuple[()] = ()
    sequences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placement:
    """Where the block goes and the attribute that holds it: the caller's choices, checked once, when built.

    At most one of ``after``, ``before`` and ``replace`` names the anchor (none: the
    paper's position for the block's role). ``name`` is the attribute the block is
    assigned to; ``explicit_name`` says it was chosen rather than defaulted (a numbered
    element of an nn.Sequential cannot take a chosen name). ``channels`` is an
    expression to build the block with instead of the inferred channels; ``class_name``
    the class to wire, optional when the file defines one nn.Module.
    """

    name: str
    class_name: str | None = None
    after: str | None = None
    before: str | None = None
    replace: str | None = None
    channels: str | None = None
    explicit_name: bool = False

    def __post_init__(self) -> None:
        given = [mode for mode in POSITIONS if getattr(self, mode) is not None]
        if len(given) > 1:
            problem = "only one of ⟨after⟩, ⟨before⟩ and ⟨replace⟩ chooses the position: give only one of them"
            raise PlacementError("positions", problem, given)
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            problem = f"⟨name⟩ must be a Python identifier, got {self.name!r}"
            raise PlacementError("name", problem, self.name)


@dataclass(frozen=True)
class Source:
    """Where the block's code comes from: an import, or code inlined into the file."""

    module: str | None = None
    level: int = 0
    inline_code: str | None = None


@dataclass
class Result:
    """New file text, what was done, and the block modules that became unused."""

    source: str
    messages: list[str] = field(default_factory=list)
    removed_origins: list[str] = field(default_factory=list)
    channels: str | None = None  # add: the channel expression the block was built with, if any


@dataclass(frozen=True)
class Anchor:
    """An attribute (or ``seq.index`` element) a block can be wired next to."""

    name: str
    constructor: str
    channels: str | None
    uses: str
