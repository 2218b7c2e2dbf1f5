"""Teach a running Ultralytics' ``parse_model`` the plugforge blocks, without touching its files.

plugforge copies this module, as ``_register.py``, into the runtime package it
writes for a pip-installed Ultralytics. It needs only the standard library: it
reads ``parse_model``'s source, adds the same two branches that source mode
writes into tasks.py, right before the final ``else: c2 = ch[f]``, and puts the
recompiled function and the block classes into ``ultralytics.nn.tasks``.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

SAME, IN_OUT = "PLUGFORGE_SAME_CHANNELS", "PLUGFORGE_IN_OUT"
BRANCHES = """\
if m in {same}:  # plugforge: shape-preserving blocks, the input width first
    c2 = ch[f]
    args = [c2, *args]
elif m in {in_out}:  # plugforge: in/out blocks, the first argument scaled as in base_modules
    c1, c2 = ch[f], args[0]
    if c2 != nc:
        c2 = make_divisible({width_expr}, 8)
    args = [c1, c2, *args[1:]]
else:
    pass
"""


def width_expression(names: set[str]) -> str | None:
    """How this parse_model scales a width, from the names it uses; None when it has no width multiple."""
    width = next((name for name in ("width", "gw") if name in names), None)
    if width is None or "make_divisible" not in names:
        return None
    return f"min(c2, max_channels) * {width}" if "max_channels" in names else f"c2 * {width}"


def register(same: frozenset, in_out: frozenset, blocks: list[type]) -> None:
    """Put ``blocks`` into ``ultralytics.nn.tasks`` and give its ``parse_model`` the two branches (once)."""
    from ultralytics.nn import tasks

    for block in blocks:
        setattr(tasks, block.__name__, block)
    setattr(tasks, SAME, frozenset(getattr(tasks, SAME, frozenset())) | same)
    setattr(tasks, IN_OUT, frozenset(getattr(tasks, IN_OUT, frozenset())) | in_out)
    if SAME in tasks.parse_model.__code__.co_names:  # patched on disk before the import, or registered already
        return
    tree = ast.parse(textwrap.dedent(inspect.getsource(tasks.parse_model)))
    fallbacks = [node for node in ast.walk(tree) if isinstance(node, ast.If) and _is_fallback(node.orelse)]
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    expression = width_expression(names)
    if len(fallbacks) != 1 or expression is None:
        raise RuntimeError(
            "plugforge: this Ultralytics' parse_model does not have exactly one final `else: c2 = ch[f]`; "
            "register the blocks in its source instead (plugforge add ... --ultralytics PATH)"
        )
    branches = ast.parse(BRANCHES.format(same=SAME, in_out=IN_OUT, width_expr=expression)).body[0]
    branches.orelse[0].orelse = fallbacks[0].orelse
    fallbacks[0].orelse = [branches]
    exec(compile(ast.fix_missing_locations(tree), inspect.getsourcefile(tasks), "exec"), tasks.__dict__)


def _is_fallback(body: list[ast.stmt]) -> bool:
    """``c2 = ch[f]`` alone: the last branch of parse_model's chain."""
    return len(body) == 1 and ast.unparse(body[0]) == "c2 = ch[f]"
