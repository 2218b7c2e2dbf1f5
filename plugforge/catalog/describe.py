"""Plain-text descriptions of catalog entries for `list` and `info`."""

from __future__ import annotations

from typing import Any

from plugforge.catalog.spec import IDENTITY, BlockSpec


def summary_row(spec: BlockSpec) -> dict[str, Any]:
    """One entry as `plugforge list --json` shows it."""
    return {
        "id": spec.id,
        "class": spec.class_name,
        "category": spec.category,
        "role": spec.role,
        "summary": spec.summary,
        "aliases": list(spec.aliases),
        "identity_init": spec.identity,
        "map_size": spec.map_size.needs if spec.map_size else None,
        "paper": {"title": spec.paper.title, "venue": f"{spec.paper.venue} {spec.paper.year}", "link": spec.paper.link},
    }


def table(specs: list[BlockSpec]) -> str:
    """A fixed-width table: id, class, category, summary."""
    return columns([("ID", "CLASS", "CATEGORY", "SUMMARY"), *((s.id, s.class_name, s.category, s.summary) for s in specs)])


def columns(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned columns; the last column is left unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]) for row in rows)


def info(spec: BlockSpec) -> str:
    """Everything a user needs to pick and wire a block."""
    kind = "function, not wired into models" if spec.role == "utility" else f"role: {spec.role}"
    lines = [f"{spec.id}: {spec.class_name} ({spec.category}, {kind})", "", spec.summary, ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [f"Paper:   {spec.paper.cite()}", f"         {spec.paper.link}"]
    if spec.aliases:
        lines.append(f"Aliases: {', '.join(spec.aliases)}")
    lines += ["", "Parameters:"] if spec.params else []
    for p in spec.params.values():
        default = "required" if p.required else f"default {_show(p.default)}"
        lines.append(f"  {p.name}: {p.describe()}, {default}")
        lines.append(f"      {p.doc}")
    if spec.rules:
        lines += ["", "Rules (checked as soon as the values are known):"]
        lines += [f"  {rule.require}: {rule.why}" for rule in spec.rules]
    if spec.role != "utility":
        channels = spec.input.channels or "C"
        lines += ["", "Shape:"]
        lines += _contract_lines("input", spec.input.layout, spec.input.describe(channels))
        output = spec.output.describe(spec.output.channels or channels)
        lines += _contract_lines("output", spec.output.layout, [*output, *filter(None, [spec.output.size_note()])])
        if spec.multi_input:
            lines.append(f"  call:   block({', '.join(spec.input.names)})")
    if spec.placement:
        lines += ["", f"Usually placed: {spec.placement}"]
    if spec.notes:
        lines += ["", "Other implementations and their weights:", *(f"  {line}" for line in spec.notes.splitlines())]
    if spec.map_size:
        lines += ["", f"Map size: {_map_size(spec)}"]
    if spec.role in ("insert", "layer") and spec.input.layout != "any":
        lines += ["", f"Identity start: {_identity(spec)}"]
    lines += ["", "Examples:", *(f"  {command}" for command in examples(spec))]
    return "\n".join(lines)


def _map_size(spec: BlockSpec) -> str:
    rule = spec.map_sizes(spec.defaults())
    where = "`add --check` refuses a map at the anchor that does not fit, naming the setting that works"
    if rule is None:
        return f"any H and W with the defaults; with other settings {spec.map_size.needs} ({where})"
    return f"{rule}; {where}"


def _identity(spec: BlockSpec) -> str:
    if spec.identity is None:
        return "not supported (the block cannot start as the identity)"
    flag = "" if spec.identity == "built-in" else "; `plugforge add --identity-init` turns it on"
    return IDENTITY[spec.identity] + flag


def _contract_lines(label: str, layout: str, shapes: list[str]) -> list[str]:
    head = f"  {label + ':':<8}{layout} "
    return [head + shapes[0], *(" " * len(head) + shape for shape in shapes[1:])]


def examples(spec: BlockSpec) -> list[str]:
    commands = [f"plugforge new {spec.id} -o blocks/"]
    tunable = next((p for p in spec.params.values() if not p.required), None)
    if tunable is not None:
        commands.append(f"plugforge new {spec.id} --set {tunable.name}={_show(tunable.default, cli=True)}")
    if spec.role == "insert":  # a ResNet bottleneck: conv1/bn1, the 3x3 conv2/bn2, conv3/bn3, then the sum
        anchor = "bn2" if spec.insert_at == "kxk" else "bn3"
        commands.append(f"plugforge add {spec.id} --into model.py  # placed as the paper does: --after {anchor}")
    elif spec.role == "replace" and spec.resample[:1] == ("up",):
        commands.append(f"plugforge add {spec.id} --into model.py --replace up  # an nn.Upsample or nn.ConvTranspose2d")
    elif spec.role == "replace":
        commands.append(f"plugforge add {spec.id} --into model.py --replace conv2")
    return commands


def _show(value: Any, cli: bool = False) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) if cli else "[" + ", ".join(map(str, value)) + "]"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if cli else repr(value)
