"""The `plugforge` command line: parse, call, print.

Commands that do not need torch never import it; rendering (jinja, black) is
imported only by the commands that render.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from plugforge import __version__, describe
from plugforge.catalog import load_catalog
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_blocks(category: str | None, as_json: bool) -> None:
    """List the blocks of the catalog."""
    catalog = load_catalog()
    specs = catalog.specs
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
    click.echo(describe.info(load_catalog().get(block)))


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

    spec = load_catalog().get(block)
    values = spec.resolve(_parse_sets(sets))
    for written in new_block(spec, values, out_dir, with_tests=not no_tests, force=force):
        click.echo(f"{written.status:>11}  {written.path}")

