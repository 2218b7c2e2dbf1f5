"""The one exception the wiring package raises."""

from ..errors import PlugforgeError


class WireError(PlugforgeError):
    """A request that cannot be carried out safely; the message names the fix."""


class RulesUndecided(WireError):
    """Rules of a replacing block that the source of ``class_name.<anchor>`` cannot decide: measuring may tell."""

    def __init__(self, message: str, class_name: str, anchor: str, rules: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.class_name, self.anchor, self.rules = class_name, anchor, rules


class ChannelsUnknown(WireError):
    """No channel expression can be read after ``self.<anchor>`` of ``class_name``: measuring may tell."""

    def __init__(self, message: str, class_name: str, anchor: str, constructor: str) -> None:
        super().__init__(message)
        self.class_name, self.anchor, self.constructor = class_name, anchor, constructor
