"""The errors the wiring package raises (defined with the tool's others, in ``plugforge.errors``).

The package knows source code, not the tool around it: where a message names a field of
the request (``Placement.after``, a ``Block`` setting, ``Source.inline_code``, ...), it
writes ``⟨after⟩``, ``⟨settings⟩``, ``⟨inline⟩``; ``FIELD`` finds them, and the caller words
each for its own users (``plugforge.wiring.worded``).
"""

import re

from ..errors import ChannelsUnknown, PlacementError, RulesUndecided, WireError

FIELD = re.compile(r"⟨(\w+)⟩")

__all__ = ["FIELD", "ChannelsUnknown", "PlacementError", "RulesUndecided", "WireError"]
