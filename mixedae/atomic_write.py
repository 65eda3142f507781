"""Write a file so that its name only ever holds the old content or the complete new one.

The content goes to a new temporary file in the same directory (created with ``O_EXCL``
and ``O_NOFOLLOW``: never an existing file or a symlink planted under that name), is
flushed and ``fsync``-ed, then renamed over the target; the directory is ``fsync``-ed so
that the rename survives a crash of the machine. A kill at any moment leaves the target
as it was (and at most a ``.<name>.<random>.partial`` file, which
:func:`remove_partial_files` clears); a full disk raises :class:`FileWriteError` naming the
target, with the target untouched.

The one way the project writes a file that someone else reads (checkpoints, state files,
tables, records); standard library only, so the light tools use it too. mmengine's
``local_atomic`` file backend (:mod:`mixedae.engine.atomic_backend`) is built on it.
"""
import contextlib
import errno
import os
import os.path as osp
import re
import secrets
from typing import BinaryIO, Iterator

PARTIAL_SUFFIX = '.partial'
PARTIAL_PATTERN = re.compile(r'\..+\.[0-9a-f]{12}\.partial')


class FileWriteError(OSError):
    """Writing a file failed (full disk, quota, I/O error); the target is unchanged."""


def partial_name(path: str) -> str:
    """A fresh temporary name next to ``path``."""
    head, tail = osp.split(path)
    return osp.join(head, f'.{tail}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}')


def _open_new_partial(path: str) -> BinaryIO:
    """Create and open a new temporary file next to ``path`` (mode ``x``: ``O_CREAT |
    O_EXCL``, which never opens an existing file and never follows a symlink)."""
    while True:
        try:
            return open(partial_name(path), 'xb')
        except FileExistsError:
            continue


def _fsync_directory(directory: str) -> None:
    """Make the rename durable; filesystems that cannot sync a directory are let be."""
    fd = os.open(directory or '.', os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """Open a temporary file for ``path``; on leaving the block without an exception it
    replaces ``path``, otherwise it is removed. ``f.name`` is the temporary file (to read
    the content back before it is committed).

    Raises:
        FileWriteError: writing, syncing or renaming failed; names ``path``.
    """
    path = os.fspath(path)
    f = _open_new_partial(path)
    partial = f.name
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
        _fsync_directory(osp.dirname(path))
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        if isinstance(err, FileWriteError) or not (isinstance(err, OSError)
                                                    or _is_write_failure(err)):
            raise
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        failure = FileWriteError(f'could not write {path}: {reason.splitlines()[0]} '
                                 '(the file is unchanged)')
        failure.errno = getattr(err, 'errno', None)
        raise failure from err


def _is_write_failure(err: BaseException) -> bool:
    """torch.save reports a failed write as a RuntimeError from its zip writer."""
    return isinstance(err, RuntimeError) and ('inline_container' in str(err)
                                              or 'PytorchStreamWriter' in str(err))


def write_atomically(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8; see :func:`atomic_output`)."""
    with atomic_output(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def remove_partial_files(directory: str) -> list:
    """Delete the temporary files that killed writers left in ``directory``."""
    removed = []
    for name in os.listdir(directory):
        if PARTIAL_PATTERN.fullmatch(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(osp.join(directory, name))
                removed.append(osp.join(directory, name))
    return removed

