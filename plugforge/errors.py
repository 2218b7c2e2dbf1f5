"""The tool's errors. Each message says what is wrong and how to fix it."""


class PlugforgeError(Exception):
    """Base class: the CLI prints the message and exits with status 1."""


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
