"""Plain data passed in and out of the wiring API."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("insert", "replace", "fuse", "layer")


@dataclass(frozen=True)
class Block:
    """What the wiring needs to know about a block class.

    Insert-role blocks receive the channel expression as their first positional
    argument; ``kwargs`` are extra constructor arguments as source expressions.
    ``same_channels`` names keyword parameters that receive the channel
    expression too: a shape-preserving block whose output width is a
    parameter of its own (ASPP's ``out_channels``). ``rules`` are ``(rule, why)``
    pairs its constructor arguments must satisfy (Python expressions over parameter
    names), checked by ``--replace`` against the replaced layer's arguments with the
    ``settings``: every parameter's own value (default or ``--set``) as source.
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
