"""The rules for writing a user's files, in one place.

``project.write_all`` applies them to every file a command writes: a symlink is
written through to its target (the link stays), a read-only file or folder is
refused, a Python file is refused if CPython would not compile it, a rewritten
file keeps its mode and owner, and a failure part-way puts back what was
already replaced. ``locked`` serialises the commands that edit the same files,
so that concurrent runs take turns instead of losing each other's changes.

Like ``plugforge.project`` this module never imports torch, the catalog or the renderer.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .errors import PlugforgeError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not serialised there
    fcntl = None


class UnsafeWriteError(PlugforgeError):
    """A file cannot be written safely; nothing was changed."""


@contextmanager
def locked(paths: Iterable[Path | str]) -> Iterator[None]:
    """Hold an exclusive lock on each path (file or folder, existing or not) for the body.

    The locks are files in a per-user folder of the system's temporary directory,
    one per real path, so that nothing is ever created in the user's project and
    a path that does not exist yet (a blocks folder about to be made) locks too.
    Locks are taken in one fixed order, so two runs never deadlock.
    """
    keys = sorted({os.path.realpath(path) for path in paths} - _held)
    if fcntl is None or not keys:
        yield
        return
    folder = Path(tempfile.gettempdir()) / f"plugforge-locks-{os.getuid()}"
    with ExitStack() as stack:
        for key in keys:
            stack.enter_context(_lock(folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")))
            _held.add(key)
            stack.callback(_held.discard, key)
        yield


_held: set[str] = set()  # keys this process holds: a nested ``locked`` of the same path does not wait on itself


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise PlugforgeError(
            f"cannot create the lock file {path} ({error.strerror}); make {path.parent.parent} writable, "
            "or point TMPDIR at a writable folder"
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def display(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def through_links(path: Path) -> Path:
    """The file a write to ``path`` must change: the final target of a symlink, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_writable(paths: Iterable[Path], deleted: Iterable[Path] = ()) -> None:
    """Refuse, before anything is written, a path that cannot be replaced or created.

    A file without write permission is refused even where the file system would
    let the rename through (it always does, and root may write anything): the
    mode says the owner does not want it changed. A deleted file needs only its folder.
    """
    deleted = set(deleted)
    for path in [*paths, *deleted]:
        if path not in deleted and path.exists() and not _writable(path):
            raise UnsafeWriteError(
                f"{display(path)} is read-only (mode {stat.filemode(path.stat().st_mode)}), so plugforge leaves it alone; "
                f"make it writable (chmod u+w {display(path)}) and run again; nothing was changed"
            )
        folder = _nearest_existing(path.parent)
        if not folder.is_dir():
            raise UnsafeWriteError(
                f"cannot write {display(path)}: {display(folder)} is a file, not a folder; rename or move it "
                "(or choose another folder for the blocks: blocks-dir in [tool.plugforge] of pyproject.toml); "
                "nothing was changed"
            )
        if not _writable(folder):
            raise UnsafeWriteError(
                f"cannot write {display(path)}: the folder {display(folder)} is read-only; make it writable "
                f"(chmod u+w {display(folder)}) "
                "or choose another folder; nothing was changed"
            )


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_compiles(path: Path, new: str, old: str | None) -> None:
    """Refuse a Python file that CPython would not compile (a NUL byte, a syntax error)."""
    problem = _compile_error(new) if path.suffix == ".py" else None
    if problem is None:
        return
    if old is not None and _compile_error(old) is not None:
        raise UnsafeWriteError(
            f"{display(path)} does not compile as it is ({_compile_error(old)}), so Python cannot load it; fix it, "
            "then run again; nothing was changed"
        )
    raise UnsafeWriteError(
        f"the rewritten {display(path)} would not compile ({problem}); nothing was changed. "
        "This is a bug in plugforge: please report it with the command you ran"
    )


def _compile_error(text: str) -> str | None:
    try:
        compile(text.removeprefix("\ufeff"), "<file>", "exec", dont_inherit=True)  # a BOM is fine in a file
    except SyntaxError as error:
        return f"line {error.lineno}: {error.msg}" if error.lineno else error.msg
    except ValueError as error:  # a NUL byte (Python < 3.12)
        return str(error)
    return None


def keep_metadata(temporary: str, path: Path) -> None:
    """Give the new file ``path``'s mode and owner; a new file gets 0o666 minus the umask."""
    if not path.exists():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        return
    old = path.stat()
    os.chmod(temporary, stat.S_IMODE(old.st_mode))
    new = os.stat(temporary)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.chown(temporary, old.st_uid, old.st_gid)
        except PermissionError:
            raise UnsafeWriteError(
                f"{display(path)} belongs to another user (uid {old.st_uid}); plugforge replaces a file as a whole and "
                f"could not keep its owner; run as that user; nothing was changed"
            ) from None


def remove_empty_folders(paths: Iterable[Path]) -> None:
    """Remove each folder that is empty, deepest first; one that another run has filled stays."""
    for folder in sorted(set(paths), key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (another run wrote there), gone, or not ours to remove


def os_error(error: OSError, path: Path | str) -> UnsafeWriteError:
    """An OS refusal as a message that names the file and the fix."""
    return UnsafeWriteError(
        f"cannot write {display(Path(path))}: {error.strerror or error}; check the file's and its folder's permissions "
        "and free space; nothing was changed"
    )


def read_text(path: Path) -> str:
    """A user's file as its exact text (CRLF and BOM kept), or an error that says what to fix."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PlugforgeError(f"{path} does not exist; check the path given to --into/--from") from None
    except UnicodeDecodeError as error:
        raise PlugforgeError(f"{path} is not UTF-8 text ({error.reason}); convert it to UTF-8") from None
    except OSError as error:
        raise PlugforgeError(f"cannot read {path}: {error.strerror}; check the path and its permissions") from None
