"""The `plugforge` command line: parse, call, print.

Commands that do not need torch never import it; rendering (jinja, black) is
imported only by the commands that render.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from plugforge import __version__
from plugforge.catalog import describe
from plugforge.catalog.spec import find, load_catalog
from plugforge.errors import PlugforgeError, UsageError
from plugforge.shapes import parse_shape


class _Command(click.Command):
    """Turns the tool's own errors into a clean message: exit code 1, or 2 with the usage for a ``UsageError``."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UsageError as error:  # options that contradict each other, or lack their partner
            raise click.UsageError(str(error), ctx) from None
        except PlugforgeError as error:
            raise click.ClickException(str(error)) from None
        except ModuleNotFoundError as error:
            if error.name != "torch":
                raise
            raise click.ClickException(NO_TORCH) from None


class _Group(click.Group):
    """Lists the commands in sections, by what they are for."""

    command_class = _Command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed = [name for names in SECTIONS.values() for name in names]
        others = [name for name in self.list_commands(ctx) if name not in listed]
        width = max(map(len, self.list_commands(ctx)))
        for title, names in {**SECTIONS, **({"Other commands": others} if others else {})}.items():
            with formatter.section(title):
                formatter.write_dl([(name.ljust(width), self.commands[name].get_short_help_str(200)) for name in names])


# The sections of `plugforge --help`, in order: each command's one-line summary (short_help) must fit its row.
SECTIONS = {
    "Blocks": ["list", "info", "new", "vendor"],
    "Wiring": ["add", "remove", "anchors", "remap"],
    "Measuring": ["check", "bench"],
    "Your files": ["diff", "update"],
}

NO_TORCH = (
    "this command runs a model, so it needs PyTorch, which is not installed for this Python; install it "
    "(pip install torch, or the build for your GPU from https://pytorch.org/get-started/locally/) and run again"
)


class _Setting(click.ParamType):
    """``--set NAME=VALUE``: the pair ``(name, value text)``; the value is read against the block's parameter later."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            _fail(f"expected NAME=VALUE, e.g. --set reduction=8; got {value!r}", param, ctx)
        return name.strip(), text


class _Shape(click.ParamType):
    """``--input 2,64,56,56`` (or ``2x64x56x56``): a tuple of positive sizes."""

    name = "SHAPE"

    def convert(self, value, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_shape(value)
        except ValueError as error:
            _fail(str(error), param, ctx)


SETTING, SHAPE = _Setting(), _Shape()


def _fail(message: str, param: click.Parameter | None, ctx: click.Context | None):
    """A bad value, shown as ``Invalid value for --input: ...`` (the option as the user typed it)."""
    raise click.BadParameter(message, ctx, param, param_hint=param.opts[0] if param is not None else None)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plugforge")
def main() -> None:
    """Render tested, self-contained PyTorch blocks and wire them into your model.

    \b
    Examples:
      plugforge list --category "channel attention"
      plugforge info sk
      plugforge new sk -o blocks/ --set kernels=3,5,7
    """


@main.command("list", short_help="List the blocks of the catalog.")
@click.option("--category", "-c", help="Only blocks of this category (see the CATEGORY column).")
@click.option("--identity-init", "identity", is_flag=True, help="Only blocks that can start as the identity.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_blocks(category: str | None, identity: bool, as_json: bool) -> None:
    """List the blocks of the catalog."""
    catalog = load_catalog()
    specs = [s for s in catalog.specs if s.identity or not identity]
    if category:
        specs = [s for s in specs if s.category == category.lower()]
        if not specs:
            raise click.BadParameter(
                f"no category {category!r}; choose from: {', '.join(catalog.categories())}", param_hint="--category"
            )
    if as_json:
        click.echo(json.dumps([describe.summary_row(s) for s in specs], indent=2))
    else:
        click.echo(describe.table(specs))


@main.command(short_help="Show a block's paper, parameters and examples.")
@click.argument("block")
def info(block: str) -> None:
    """Show a block's paper, parameters, shapes and example commands.

    BLOCK is a catalog id or alias, in any case (sk, SKNet, selective_kernel).
    """
    click.echo(describe.info(find(block)))


@main.command(short_help="Render a block and its tests into a folder.")
@click.argument("block")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Directory to write the files into.")  # fmt: skip
@click.option("--set", "sets", multiple=True, type=SETTING,
              help="Set a hyperparameter, e.g. --set kernels=3,5,7. Repeatable.")  # fmt: skip
@click.option("--no-tests", is_flag=True, help="Do not write test_<block>.py.")
@click.option("--force", is_flag=True, help="Overwrite files that differ from the render.")
def new(block: str, out_dir: Path, sets: tuple[tuple[str, str], ...], no_tests: bool, force: bool) -> None:
    """Render BLOCK into <block>.py and test_<block>.py.

    The files import only torch and are yours to edit. A file that already
    exists with other content is left alone unless --force is given.

    \b
    Examples:
      plugforge new se
      plugforge new aspp -o blocks/ --set rates=6,12,18
    """
    from plugforge.rendering.generate import new_block

    spec = find(block)
    values = spec.resolve(dict(sets))
    for written in new_block(spec, values, out_dir, with_tests=not no_tests, force=force):
        click.echo(f"{written.status:>11}  {written.path}")



@main.command(short_help="Wire a block into a model (.py, notebook, YOLO YAML).")
@click.argument("block")
@click.option("--into", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model's .py file (or .ipynb notebook) to rewrite.")  # fmt: skip
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module to change; optional when the file has one.")
@click.option("--after", metavar="ATTR", help="Insert after self.ATTR (or seq.INDEX inside an nn.Sequential).")
@click.option("--before", metavar="ATTR", help="Insert before self.ATTR.")
@click.option("--replace", metavar="ATTR", help="Replace self.ATTR (a conv or pooling layer) with the block.")
@click.option("--name", help="Attribute name for the block. Default: the block id.")
@click.option("--set", "sets", multiple=True, type=SETTING, help="Set a hyperparameter. Repeatable.")
@click.option("--channels", metavar="EXPR", help="Channel expression to pass instead of the inferred one.")
@click.option("--inline", is_flag=True, help="Put the block's code into the model file instead of blocks/.")
@click.option("--cell", type=click.IntRange(min=1),
              help="Notebook only: the code cell to change (1 = first code cell; markdown cells do not count).")  # fmt: skip
@click.option("--identity-init", is_flag=True,
              help="Start the block as the identity, so a pretrained model computes what it did before.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print a unified diff of every file; write nothing.")
@click.option("--check", "check_expr", metavar="EXPR",
              help="Then build EXPR (e.g. 'Bottleneck(256, 64)') and run it at --input; undo everything if it fails.")  # fmt: skip
@click.option("--build", "build_expr", metavar="EXPR",
              help="Where the source does not tell the channels: build EXPR (e.g. 'Bottleneck(256, 64)') and measure them.")  # fmt: skip
@click.option("--input", "shapes", multiple=True, type=SHAPE,
              help="Input shape for --check or --build, e.g. 2,256,56,56.")  # fmt: skip
@click.option("--after-layer", metavar="NAME",
              help="YOLO YAML: after the module that occurs once (SPPF), its k-th (C2f:2), or `backbone`.")  # fmt: skip
@click.option("--rewire", type=click.Choice(["all", "next"]),
              help="YOLO YAML: every consumer of the layer reads the block (all, default) or only the next row.")  # fmt: skip
@click.option("--in-place", is_flag=True, help="YOLO YAML: rewrite the YAML instead of writing <stem>-<block>.yaml.")
@click.option("--ultralytics", "ultralytics", type=click.Path(file_okay=False, path_type=Path),
              help="YOLO YAML: the Ultralytics checkout to register the block in (source mode).")  # fmt: skip
@click.option("--patch-installed", is_flag=True,
              help="YOLO YAML: register the block in a pip-installed Ultralytics' files too.")  # fmt: skip
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="YOLO YAML: a checkpoint of the original model, remapped to the new rows into -o.")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where --weights writes the new checkpoint.")
def add(block: str, model: Path, class_name: str | None, after: str | None, before: str | None,
        replace: str | None, name: str | None, sets: tuple[tuple[str, str], ...], channels: str | None,
        inline: bool, cell: int | None, identity_init: bool, dry_run: bool, check_expr: str | None,
        build_expr: str | None, shapes: tuple[tuple[int, ...], ...], after_layer: str | None, rewire: str | None,
        in_place: bool, ultralytics: Path | None, patch_installed: bool, weights: Path | None,
        output: Path | None) -> None:  # fmt: skip
    """Wire BLOCK into the model class in the file given by --into.

    The block is rendered to blocks/<block>.py next to the model (or the
    blocks-dir of [tool.plugforge] in pyproject.toml) and imported, or inlined
    with --inline. It is constructed in __init__ with the channel expression of
    its anchor and called in forward. Without a position, the block goes where
    its paper puts it; the chosen position is printed. Every file is written, or
    none. In a notebook the block always goes inline into the cell that defines
    the class.

    Channels are read from the source, following imports into other modules.
    Where that cannot decide, plugforge imports the model, builds the class (with
    --build EXPR, else with its defaults) and picks the name in scope whose value
    is the anchor's measured width.

    \b
    Examples:
      plugforge add sknet --into model.py
      plugforge add se --into model.py --class Bottleneck --after bn3
      plugforge add ghost --into model.py --replace conv2 --dry-run
      plugforge add cbam --into model.py --identity-init
      plugforge add eca --into train.ipynb --class Net
      plugforge add se --into model.py --check "Bottleneck(256, 64)" --input 2,256,56,56
      plugforge add se --into model.py --after stage --build "Net(32)"
      plugforge add cbam --into ultralytics/cfg/models/v8/yolov8.yaml --after 4
      plugforge add eca --into yolo11.yaml --after 4,6 --ultralytics ~/src/ultralytics
    """
    from plugforge import wiring

    if (weights is None) != (output is None):
        raise click.UsageError("--weights and -o go together: the checkpoint to remap and where to write it")
    if weights and model.suffix not in (".yaml", ".yml"):
        raise click.UsageError("--weights remaps a YOLO checkpoint onto the YAML add writes; give a model YAML")
    if weights and dry_run:
        raise click.UsageError("--weights writes a checkpoint, so it cannot run with --dry-run")
    yolo = {key: value for key, value in dict(after_layer=after_layer, rewire=rewire, in_place=in_place or None,
            ultralytics=ultralytics, patch_installed=patch_installed or None).items() if value is not None}  # fmt: skip
    spec = find(block)
    where = wiring.placement(name=name or spec.id, explicit_name=name is not None, class_name=class_name,
                             after=after, before=before, replace=replace, channels=channels)  # fmt: skip
    request = wiring.AddRequest(spec, model, where, dict(sets), inline=inline, identity_init=identity_init, cell=cell,
                                dry_run=dry_run, check=check_expr, build=build_expr, shapes=shapes, yolo=yolo)  # fmt: skip
    outcome = wiring.add(request)
    _report(outcome, dry_run)
    if outcome.report:
        click.echo(outcome.report)
    if weights:
        _remap(weights, outcome.written, output, ultralytics)


@main.command(short_help="Move a YOLO checkpoint onto a YAML with new rows.")
@click.argument("checkpoint", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("model", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The new checkpoint.")
@click.option("--ultralytics", type=click.Path(file_okay=False, path_type=Path),
              help="The Ultralytics checkout to import (default: the one Python finds).")  # fmt: skip
def remap(checkpoint: Path, model: Path, output: Path, ultralytics: Path | None) -> None:
    """Move an Ultralytics checkpoint's weights onto a YAML with plugforge rows.

    The rows of the checkpoint's stored YAML are aligned with MODEL's, `model.N.`
    keys move to their new index, tensors load by shape, and the result is saved
    in Ultralytics' checkpoint format; the new blocks keep their initialisation.

    \b
    Example:
      plugforge remap yolov8n.pt yolov8n-cbam.yaml -o yolov8n-cbam-init.pt
    """
    _remap(checkpoint, model, output, ultralytics)


def _remap(checkpoint: Path, model: Path, output: Path, ultralytics: Path | None) -> None:
    from plugforge.wiring import yolo_weights  # imports torch and Ultralytics

    click.echo(yolo_weights.remap(checkpoint, model, output, ultralytics))


@main.command(short_help="Undo add: take a wired block out of a model.")
@click.argument("name")
@click.option("--from", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model's .py file or notebook.")  # fmt: skip
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module that holds the block.")
@click.option("--cell", type=click.IntRange(min=1),
              help="Notebook only: the code cell that holds the block (1 = first code cell).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print a unified diff of every file; write nothing.")
@click.option("--ultralytics", type=click.Path(file_okay=False, path_type=Path),
              help="YOLO YAML: the Ultralytics checkout the block was registered in.")  # fmt: skip
@click.option("--keep-registered", is_flag=True, help="YOLO YAML: remove the rows only; Ultralytics keeps the block.")
def remove(name: str, model: Path, class_name: str | None, cell: int | None, dry_run: bool,
           ultralytics: Path | None, keep_registered: bool) -> None:  # fmt: skip
    """Undo `plugforge add`: remove the block attribute NAME, its calls and its import.

    The vendored block file is deleted too when nothing else imports it. In a
    YOLO model YAML, NAME is the block id: its rows go (the file is as it was
    before `add`), and so does its registration in Ultralytics.
    """
    from plugforge import wiring

    outcome = wiring.remove(model, name, class_name=class_name, cell=cell, dry_run=dry_run,
                            ultralytics=ultralytics, keep_registered=keep_registered)  # fmt: skip
    _report(outcome, dry_run)


@main.command(short_help="List where in a model class a block can go.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module to inspect; optional when the file has one.")
@click.option("--build", "build_expr", metavar="EXPR", help="Build EXPR to measure the channels the source cannot tell.")
@click.option("--input", "shapes", multiple=True, type=SHAPE, help="Input shape for --build, e.g. 2,256,56,56.")
def anchors(file: Path, class_name: str | None, build_expr: str | None, shapes: tuple[tuple[int, ...], ...]) -> None:
    """List the attributes of a model class that a block can be wired next to.

    For each: the inferred channel expression, how forward uses it, and its
    constructor. With --build, channels the source cannot tell are measured as
    add would, marked "(measured)".
    """
    from plugforge import wiring

    if file.suffix in (".yaml", ".yml"):
        click.echo(describe.columns(wiring.yolo_layers(file)))
        return
    if shapes and not build_expr:
        raise click.UsageError("--input is the input shape for --build; add --build EXPR")
    found = wiring.anchors(file, class_name, build_expr, shapes)
    rows = [("ANCHOR", "CHANNELS", "USE IN FORWARD", "CONSTRUCTOR")]
    rows += [(a.name, a.channels or "?", a.uses, " ".join(a.constructor.split())) for a in found]
    click.echo(describe.columns(rows))


def _measure_options(command):
    """--device, --dtype and --backward, shared by check and bench."""
    for option in reversed([
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
                     help="Where to run."),
        click.option("--dtype", type=click.Choice(["float32", "bfloat16"]), default="float32", show_default=True,
                     help="Cast the parameters and float inputs to this type."),
        click.option("--backward", is_flag=True, help="Measure forward+backward in train mode (default: forward, eval)."),
        click.option("--threads", type=click.IntRange(min=1), metavar="N",
                     help="torch's CPU threads while measuring (default: torch's own); the report says which."),
    ]):  # fmt: skip
        command = option(command)
    return command


@main.command(short_help="Measure your model: outputs, cost, latency, memory.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--build", "expr", required=True, metavar="EXPR",
              help="The model to build, evaluated in FILE, e.g. 'Bottleneck(256, 64)' or 'resnet18()'.")  # fmt: skip
@click.option("--input", "shapes", required=True, multiple=True, type=SHAPE,
              help="Input shape, e.g. 2,256,56,56; one per forward argument. Repeatable.")  # fmt: skip
@_measure_options
@click.option("--against", metavar="REV_OR_FILE",
              help="Also measure another version (a file, or a git revision such as HEAD) and show ratios.")  # fmt: skip
def check(file: Path, expr: str, shapes: tuple[tuple[int, ...], ...], device: str, dtype: str, backward: bool,
          threads: int | None, against: str | None) -> None:  # fmt: skip
    """Build a model from FILE, run it on random inputs, and report what it costs.

    Reports the output shapes, parameter count, FLOPs, latency (median and
    interquartile range over warm runs) and peak memory. FILE is imported in its
    package context, so relative imports and a vendored blocks/ package work.

    \b
    Examples:
      plugforge check model.py --build "Bottleneck(256, 64)" --input 2,256,56,56
      plugforge check model.py --build "resnet18()" --input 1,3,224,224 --backward
      plugforge check model.py --build "Bottleneck(256, 64)" --input 2,256,56,56 --against HEAD
    """
    from plugforge.measure import checking

    settings = checking.Settings(device, dtype, backward, threads=threads)
    click.echo(checking.check(file, expr, shapes, settings, against))


@main.command(short_help="Measure blocks: parameters, FLOPs, latency, memory.")
@click.argument("block")
@click.option("--set", "sets", multiple=True, type=SETTING,
              help="Set a hyperparameter (of every compared block that has it). Repeatable.")  # fmt: skip
@click.option("--input", "shape", default="2,64,56,56", show_default=True, type=SHAPE,
              help="The (B, C, H, W) input; C is the block's channel count.")  # fmt: skip
@_measure_options
@click.option("--compare", "others", multiple=True, metavar="ID",
              help="Other blocks for the same table, e.g. --compare eca,cbam. Repeatable.")  # fmt: skip
def bench(block: str, sets: tuple[tuple[str, str], ...], shape: tuple[int, ...], device: str, dtype: str, backward: bool,
          threads: int | None, others: tuple[str, ...]) -> None:  # fmt: skip
    """Measure BLOCK (rendered with its defaults) at one input: parameters, FLOPs, latency, memory.

    With --compare, one row per block and each latency as a ratio of BLOCK's.

    \b
    Examples:
      plugforge bench se
      plugforge bench se --compare eca,cbam --input 8,256,14,14
      plugforge bench sk --set kernels=3,5,7 --backward
    """
    from plugforge.measure import checking

    specs = [find(name) for name in [block, *(n for group in others for n in group.split(",") if n.strip())]]
    settings = checking.Settings(device, dtype, backward, threads=threads)
    click.echo(checking.bench(specs, dict(sets), shape, settings))


def _report(outcome, dry_run: bool) -> None:
    for message in outcome.messages:
        click.echo(message, err=True)
    if dry_run:
        click.echo(outcome.diff, nl=False)


@main.command(short_help="Render several blocks into one package.")
@click.argument("blocks", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", default="blocks", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="The package folder to write.")  # fmt: skip
@click.option("--no-tests", is_flag=True, help="Do not render the test files.")
@click.option("--force", is_flag=True, help="Overwrite files that differ from the render.")
def vendor(blocks: tuple[str, ...], out_dir: Path, no_tests: bool, force: bool) -> None:
    """Render several blocks into one importable package.

    The package's __init__.py exports every block class; layers several blocks
    share are written once, to _helpers.py; each block gets its tests. Run it
    again with more blocks to add them to the same package.

    \b
    Examples:
      plugforge vendor se cbam eca coord_att -o mynet/blocks
      pytest mynet/blocks
    """
    from plugforge.rendering.generate import vendor_blocks

    specs = list({spec.id: spec for spec in map(find, blocks)}.values())
    for written in vendor_blocks(specs, out_dir, with_tests=not no_tests, force=force):
        click.echo(f"{written.status:>11}  {written.path}")


@main.command("diff", short_help="Show your edits to a rendered file.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--upstream", is_flag=True, help="Show what the current catalog would change instead of your edits.")
@click.pass_context
def diff_command(ctx: click.Context, path: Path, upstream: bool) -> None:
    """Show your edits to a rendered file, against the pristine render its header records.

    Exits 0 when there is no difference and 1 when there is one, like
    `git diff --exit-code`.

    \b
    Examples:
      plugforge diff blocks/se.py
      plugforge diff blocks/se.py --upstream
    """
    from plugforge.rendering import updating

    text = updating.diff(path, upstream=upstream)
    click.echo(text, nl=False)
    ctx.exit(1 if text else 0)


@main.command(short_help="Update rendered files to the catalog, keeping your edits.")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "everything", is_flag=True, help="Every rendered file of the project (or of this folder).")
@click.option("--dry-run", is_flag=True, help="Print a unified diff of every file; write nothing.")
@click.pass_context
def update(ctx: click.Context, paths: tuple[Path, ...], everything: bool, dry_run: bool) -> None:
    """Bring rendered files up to date with the catalog, keeping your edits.

    A 3-way merge of the pristine render (base), your file and the current
    catalog's render: edits that do not overlap are all kept; where both
    changed the same lines, the file gets conflict markers and the command
    exits 1. A file the catalog has not changed is left alone.

    \b
    Examples:
      plugforge update blocks/se.py
      plugforge update --all --dry-run
    """
    from plugforge import project
    from plugforge.rendering import updating

    if everything == bool(paths):
        raise click.UsageError("give the files to update, or --all for every rendered file of the project")
    targets = list(paths) or updating.rendered_files(_project_root())
    if not targets:
        raise click.ClickException(f"no rendered files under {_project_root()}")
    report = updating.update(targets, dry_run=dry_run)
    for message in report.messages:
        click.echo(message, err=True)
    if dry_run:
        click.echo(report.diff, nl=False)
    if report.conflicted:
        names = ", ".join(project.display(p) for p in report.conflicted)
        click.echo(f"Needs your attention: {names} (resolve the <<<<<<< ... >>>>>>> regions)", err=True)
        ctx.exit(1)


def _project_root() -> Path:
    """The folder of the nearest pyproject.toml above the current one, else the current folder."""
    from plugforge import project

    pyproject = project.find_config(Path.cwd() / "pyproject.toml").pyproject
    return pyproject.parent if pyproject else Path.cwd()
