"""Source-to-source wiring of plug-and-play blocks into PyTorch model files.

Pure libcst: knows nothing of the catalog or rendering, and never imports torch. Its messages
name the request's fields as ``⟨field⟩`` (``FIELD``); the caller words them for its users.
"""

from .api import add, anchors, module_classes, remove
from .datatypes import Anchor, Block, Placement, Result, Source
from .errors import FIELD, ChannelsUnknown, PlacementError, RulesUndecided, WireError

__all__ = [
    "FIELD",
    "Anchor",
    "Block",
    "ChannelsUnknown",
    "Placement",
    "PlacementError",
    "RulesUndecided",
    "Result",
    "Source",
    "WireError",
    "add",
    "anchors",
    "module_classes",
    "remove",
]
