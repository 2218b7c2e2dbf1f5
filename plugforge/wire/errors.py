"""The one exception the wiring package raises."""

from ..errors import PlugforgeError


class WireError(PlugforgeError):
    """A request that cannot be carried out safely; the message names the fix."""
