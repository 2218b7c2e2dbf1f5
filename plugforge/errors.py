"""The tool's errors, in one hierarchy. Each message says what is wrong and how to fix it.

Every error the tool raises on purpose is a ``PlugforgeError``: the CLI prints its
message and exits with status 1. Errors that carry data besides the message
(``RulesUndecided``, ``ChannelsUnknown``, ``PlacementError``, ``PassError``) let
the caller decide what to do next, or how to word it.
"""


class PlugforgeError(Exception):
    """Base class: the CLI prints the message and exits with status 1."""


class UsageError(PlugforgeError):
    """Options that contradict each other or lack their partner: the CLI shows its usage and exits with status 2."""


# -- the catalog and rendering ------------------------------------------------------------


class CatalogError(PlugforgeError):
    """A catalog entry is malformed; the message names the file, the key and the problem."""


class UnknownBlockError(PlugforgeError, LookupError):
    """No entry has this id or alias."""


class ParamError(PlugforgeError, ValueError):
    """A hyperparameter value is invalid; the message names it and its constraint."""


class RenderError(PlugforgeError):
    """A template failed to render or produced invalid Python."""


class FileConflictError(PlugforgeError):
    """A target file exists with different content and --force was not given."""


# -- the user's project -------------------------------------------------------------------


class ProjectError(PlugforgeError):
    """The project's ``[tool.plugforge]`` settings or layout do not allow the request; the message names the fix."""


# -- wiring (plugforge.wire) --------------------------------------------------------------


class WireError(PlugforgeError):
    """A request that cannot be carried out safely; the message names the fix."""


class PlacementError(WireError):
    """A wire request that contradicts itself or is malformed, before any source is read.

    ``problem`` is one of ``PlacementError.PROBLEMS``; ``value`` is what was given. The
    message names the request's fields (``⟨after⟩``); the caller words them (``plugforge.wiring``).
    """

    PROBLEMS = ("positions", "name", "block", "replace-role", "position-role", "origin")

    def __init__(self, problem: str, message: str, value: object = None) -> None:
        super().__init__(message)
        self.problem, self.value = problem, value


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


# -- measuring (check, bench) -------------------------------------------------------------


class CheckError(PlugforgeError):
    """The model or block could not be imported, built or run; the message says where."""


class MeasureError(PlugforgeError, ValueError):
    """Bad measurement settings (shape, device, dtype); the message says what to give instead."""


class PassError(PlugforgeError, RuntimeError):
    """The module failed during a pass; ``stage`` is "forward" or "backward", ``error`` the original error."""

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"{stage} failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error
