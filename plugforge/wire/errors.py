"""The errors the wiring package raises (defined with the tool's others, in ``plugforge.errors``)."""

from ..errors import ChannelsUnknown, PlacementError, RulesUndecided, WireError

__all__ = ["ChannelsUnknown", "PlacementError", "RulesUndecided", "WireError"]
