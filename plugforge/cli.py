"""The `plugforge` command line: parse, call, print.

Commands that do not need torch never import it; rendering (jinja, black) is
imported only by the commands that render.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from plugforge import __version__, describe
from plugforge.catalog import find, load_catalog
from plugforge.errors import PlugforgeError


class _Group(click.Group):
    """Turns the tool's own errors into a clean message and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PlugforgeError as error:
            raise click.ClickException(str(error)) from None


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, e.g. --set reduction=8; got {item!r}", param_hint="--set")
        overrides[name.strip()] = text
    return overrides


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


@main.command("list")
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


@main.command()
@click.argument("block")
def info(block: str) -> None:
    """Show a block's paper, parameters, shapes and example commands.

    BLOCK is a catalog id or alias, in any case (sk, SKNet, selective_kernel).
    """
    click.echo(describe.info(find(block)))


@main.command()
@click.argument("block")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Directory to write the files into.")  # fmt: skip
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Set a hyperparameter, e.g. --set kernels=3,5,7. Repeatable.")  # fmt: skip
@click.option("--no-tests", is_flag=True, help="Do not write test_<block>.py.")
@click.option("--force", is_flag=True, help="Overwrite files that differ from the render.")
def new(block: str, out_dir: Path, sets: tuple[str, ...], no_tests: bool, force: bool) -> None:
    """Render BLOCK into <block>.py and test_<block>.py.

    The files import only torch and are yours to edit. A file that already
    exists with other content is left alone unless --force is given.

    \b
    Examples:
      plugforge new se
      plugforge new aspp -o blocks/ --set rates=6,12,18
    """
    from plugforge.generate import new_block

    spec = find(block)
    values = spec.resolve(_parse_sets(sets))
    for written in new_block(spec, values, out_dir, with_tests=not no_tests, force=force):
        click.echo(f"{written.status:>11}  {written.path}")



@main.command()
@click.argument("block")
@click.option("--into", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model's .py file to rewrite.")  # fmt: skip
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module to change; optional when the file has one.")
@click.option("--after", metavar="ATTR", help="Insert after self.ATTR (or seq.INDEX inside an nn.Sequential).")
@click.option("--before", metavar="ATTR", help="Insert before self.ATTR.")
@click.option("--replace", metavar="ATTR", help="Replace self.ATTR (a conv or pooling layer) with the block.")
@click.option("--name", help="Attribute name for the block. Default: the block id.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Set a hyperparameter. Repeatable.")
@click.option("--channels", metavar="EXPR", help="Channel expression to pass instead of the inferred one.")
@click.option("--inline", is_flag=True, help="Put the block's code into the model file instead of blocks/.")
@click.option("--identity-init", is_flag=True,
              help="Start the block as the identity, so a pretrained model computes what it did before.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print a unified diff of every file; write nothing.")
def add(block: str, model: Path, class_name: str | None, after: str | None, before: str | None,
        replace: str | None, name: str | None, sets: tuple[str, ...], channels: str | None,
        inline: bool, identity_init: bool, dry_run: bool) -> None:  # fmt: skip
    """Wire BLOCK into the model class in the file given by --into.

    The block is rendered to blocks/<block>.py next to the model (or the
    blocks-dir of [tool.plugforge] in pyproject.toml) and imported, or inlined
    with --inline. It is constructed in __init__ with the channel expression of
    its anchor and called in forward. Without a position, the block goes where
    its paper puts it; the chosen position is printed. Every file is written, or
    none.

    \b
    Examples:
      plugforge add sknet --into model.py
      plugforge add se --into model.py --class Bottleneck --after bn3
      plugforge add ghost --into model.py --replace conv2 --dry-run
      plugforge add cbam --into model.py --identity-init
    """
    from plugforge import wiring

    if sum(option is not None for option in (after, before, replace)) > 1:
        raise click.UsageError("--after, --before and --replace choose the position: give only one of them")
    outcome = wiring.add(
        find(block), _parse_sets(sets), model, class_name=class_name, after=after,
        before=before, replace=replace, name=name, channels=channels, inline=inline,
        identity_init=identity_init, dry_run=dry_run,
    )  # fmt: skip
    _report(outcome, dry_run)


@main.command()
@click.argument("name")
@click.option("--from", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model's .py file.")  # fmt: skip
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module that holds the block.")
@click.option("--dry-run", is_flag=True, help="Print a unified diff of every file; write nothing.")
def remove(name: str, model: Path, class_name: str | None, dry_run: bool) -> None:
    """Undo `plugforge add`: remove the block attribute NAME, its calls and its import.

    The vendored block file is deleted too when nothing else imports it.
    """
    from plugforge import wiring

    _report(wiring.remove(model, name, class_name=class_name, dry_run=dry_run), dry_run)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--class", "class_name", metavar="CLASS", help="The nn.Module to inspect; optional when the file has one.")
def anchors(file: Path, class_name: str | None) -> None:
    """List the attributes of a model class that a block can be wired next to.

    For each: the inferred channel expression, how forward uses it, and its
    constructor.
    """
    from plugforge import wire, wiring

    found = wire.anchors(wiring.read_source(file), class_name)
    rows = [("ANCHOR", "CHANNELS", "USE IN FORWARD", "CONSTRUCTOR")]
    rows += [(a.name, a.channels or "?", a.uses, a.constructor) for a in found]
    click.echo(describe.columns(rows))


def _report(outcome, dry_run: bool) -> None:
    for message in outcome.messages:
        click.echo(message, err=True)
    if dry_run:
        click.echo(outcome.diff, nl=False)
