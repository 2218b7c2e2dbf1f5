"""Jupyter notebooks as a place to wire blocks: one code cell is the "model file".

Only the chosen cell's source changes; every other cell, every output and the
metadata are written back as they were. IPython magics (``%time``, ``!pip``)
are hidden from the Python parser as comments and restored byte for byte.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugforge import wire
from plugforge.errors import PlugforgeError

_MAGIC = re.compile(r"^([ \t]*)([%!])", re.MULTILINE)
_MASK = "#plugforge-magic:"
_MASKED = re.compile(rf"^([ \t]*){re.escape(_MASK)}", re.MULTILINE)


@dataclass
class Notebook:
    path: Path
    data: dict[str, Any]
    indent: int | None

    @classmethod
    def read(cls, path: Path) -> Notebook:
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except FileNotFoundError:
            raise PlugforgeError(f"{path} does not exist; check the path given to --into/--from") from None
        except OSError as error:
            raise PlugforgeError(f"cannot read {path}: {error.strerror}; check the path and its permissions") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PlugforgeError(f"{path} is not a notebook (not JSON: {error}); open and save it in Jupyter") from None
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise PlugforgeError(f"{path} is not a Jupyter notebook (no cells); pass a .ipynb file")
        if not all(isinstance(cell, dict) for cell in data["cells"]):
            raise PlugforgeError(f"{path} has cells that are not JSON objects; open it in Jupyter and save it")
        return cls(path, data, _indent_of(text))

    def choose_cell(self, cell: int | None, class_name: str | None) -> int:
        """The cell to wire (its 1-based position among all cells): ``cell``, the N-th code cell
        (markdown cells are not counted), else the one defining the class, or the only one."""
        if cell is not None:
            codes = self._code_cells()
            if cell > len(codes):
                raise PlugforgeError(
                    f"{self.path} has {len(codes)} code cell(s), so there is no code cell {cell}; {self._candidates()}"
                )
            if codes[cell - 1] not in self._module_cells():
                raise PlugforgeError(
                    f"code cell {cell} of {self.path} defines no nn.Module class; {self._candidates()}"
                )
            return codes[cell - 1]
        defining = {n: classes for n, classes in self._module_cells().items() if not class_name or class_name in classes}
        if len(defining) == 1:
            return next(iter(defining))
        wanted = f"class {class_name}" if class_name else "an nn.Module class"
        if not defining:
            raise PlugforgeError(f"no code cell of {self.path} defines {wanted}; {self._candidates()}")
        raise PlugforgeError(f"several cells of {self.path} define {wanted}; pick one with --cell ({self._candidates()})")

    def source(self, cell: int) -> str:
        """The cell's code, with magics masked so that it parses as Python."""
        text = self._cell(cell).get("source", "")  # Jupyter writes it always; hand-made notebooks may not
        if isinstance(text, list) and all(isinstance(line, str) for line in text):
            text = "".join(text)
        if not isinstance(text, str):
            raise PlugforgeError(
                f'cell {cell} of {self.path}: "source" is neither text nor a list of lines; '
                "open the notebook in Jupyter and save it, then run again"
            )
        return _MAGIC.sub(rf"\1{_MASK}\2", text)

    def with_source(self, cell: int, source: str) -> str:
        """The notebook's JSON text with the cell's code replaced (magics restored)."""
        text = _MASKED.sub(r"\1", source)
        data = copy.deepcopy(self.data)
        if text != _MASKED.sub(r"\1", self.source(cell)):  # unchanged code keeps its exact line list
            data["cells"][cell - 1]["source"] = text.splitlines(keepends=True)
        return json.dumps(data, indent=self.indent, ensure_ascii=False) + "\n"

    def label(self, number: int) -> str:
        """How ``--cell`` names the cell at position ``number``: ``code cell 2``."""
        return f"code cell {self._code_cells().index(number) + 1}"

    def _code_cells(self) -> list[int]:
        return [n for n, cell in enumerate(self.data["cells"], start=1) if cell.get("cell_type") == "code"]

    def _cell(self, number: int) -> dict[str, Any]:
        return self.data["cells"][number - 1]

    def _module_cells(self) -> dict[int, list[str]]:
        found = {}
        for number, cell in enumerate(self.data["cells"], start=1):
            if cell.get("cell_type") == "code":
                try:
                    classes = wire.module_classes(self.source(number))
                except wire.WireError:
                    continue  # a cell that is not valid Python cannot be wired anyway
                if classes:
                    found[number] = classes
        return found

    def _candidates(self) -> str:
        cells = self._module_cells()
        if not cells:
            return "define the model class in a code cell first"
        listed = "; ".join(f"--cell {self.label(n)[10:]} ({', '.join(c)})" for n, c in cells.items())
        return f"code cells with nn.Module classes (markdown cells are not counted): {listed}"


def _indent_of(text: str) -> int | None:
    """The JSON indentation the notebook was saved with (Jupyter uses 1)."""
    match = re.search(r"^\{\s*\n( +)\"", text)
    return len(match.group(1)) if match else None
