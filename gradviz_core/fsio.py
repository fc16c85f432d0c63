"""Files that may be hostile, read and written with their sizes known first.

Readers learn a file's kind and size from the file system (and an array's size from its header)
before they read it: a named pipe, a device or a socket is refused by name, never opened; a size
that cannot fit is refused with the estimate the generated sources use (``memory.data_bytes``);
a gzipped file is inflated in a stream that stops at what its header promised. Writers check the
output path before they write anything, and name it as the user typed it.

Every refusal is a ``GradvizError`` (or the subclass the caller passes) whose message starts with
the path and quotes nothing of the file's content.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from gradviz_core.errors import GradvizError
from gradviz_core.memory import SHARE, available_bytes, fmt_bytes

#: what a file-system entry is, when it is not a file or a folder
_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"))
#: what a gzipped stream may be read in at a time
CHUNK = 1 << 20
#: the errors zlib and gzip raise on a broken or cut-short stream
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class OutputError(GradvizError):
    """A path that cannot be written; the message starts with the path as the user typed it."""


# ---- reading ---------------------------------------------------------------------------------------
def regular_file(path, error: type[GradvizError] = GradvizError, what: str = "file") -> int:
    """The size in bytes of the regular file at ``path`` (symbolic links followed); a folder, a
    pipe, a device or a socket is refused by name without being opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except NotADirectoryError:
        raise error(f"{path}: no such file (a part of the path is a file, not a folder)") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder; give the path of a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise error(f"{path}: is {kind}, not a file (gradviz reads data only from regular files, "
                    "which it can size before it reads them)")
    return st.st_size


def budget() -> int:
    """The bytes a data set or a weights file may take: the share of the memory available that
    a run may plan to use."""
    return int(SHARE * available_bytes())


def check_fits(path, need: int, error: type[GradvizError] = GradvizError, what: str = "it") -> None:
    """Refuse ``need`` bytes (a Python int: no overflow) that will not fit in memory."""
    if need > budget():
        raise error(f"{path}: {what} would need about {fmt_bytes(need)}, but this machine has "
                    f"{fmt_bytes(available_bytes())} available")


@contextlib.contextmanager
def open_data(path, error: type[GradvizError] = GradvizError, what: str = "file") -> Iterator[BinaryIO]:
    """The file at ``path`` opened for reading, through gzip when it starts with gzip's magic
    number (as MNIST is distributed); the size of a plain file is checked against memory."""
    size = regular_file(path, error, what)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with fh:
        if fh.read(2) == b"\x1f\x8b":
            fh.seek(0)
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                yield gz
        else:
            check_fits(path, size, error, "the file")
            fh.seek(0)
            yield fh


def read_exactly(fh: BinaryIO, n: int, path, error: type[GradvizError], what: str) -> bytes:
    """``n`` bytes of ``fh``, read in chunks (a stream that ends early or runs on past them is
    refused, and the part past them is never inflated beyond one byte)."""
    parts, left = [], n
    try:
        while left:
            part = fh.read(min(left, CHUNK))
            if not part:
                break
            parts.append(part)
            left -= len(part)
        extra = fh.read(1)
    except GZIP_ERRORS as exc:
        raise error(f"{path}: a broken gzip file ({_gzip_why(exc)})") from None
    if left:
        raise error(f"{path}: {what}, {n:,} bytes, but the file holds only {n - left:,}")
    if extra:
        raise error(f"{path}: {what}, {n:,} bytes, but the file holds more after them")
    return b"".join(parts)


def read_all(path, error: type[GradvizError] = GradvizError, what: str = "file") -> bytes:
    """The whole content of a (possibly gzipped) file, refused once it outgrows memory."""
    limit = budget()
    with open_data(path, error, what) as fh:
        try:
            data = fh.read(limit + 1)
        except GZIP_ERRORS as exc:
            raise error(f"{path}: a broken gzip file ({_gzip_why(exc)})") from None
    if len(data) > limit:
        raise error(f"{path}: inflates to more than {fmt_bytes(limit)}, more than this machine has available")
    return data


def _gzip_why(exc: Exception) -> str:
    return "it ends before its data does" if isinstance(exc, EOFError) else "its compressed data is damaged"


def npz_arrays(path, error: type[GradvizError] = GradvizError, what: str = ".npz file") -> dict[str, tuple]:
    """{name: (dtype, shape)} of the arrays in an .npz, read from their headers only: an array of
    Python objects, a header that claims more than its member holds, or arrays that cannot fit
    are refused before NumPy allocates anything."""
    regular_file(path, error, what)
    out, total = {}, 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-4]
                with z.open(info) as fh:
                    dtype, shape, header = _npy_header(fh, path, name, error)
                if dtype.hasobject:
                    raise error(f"{path}: the array {name!r} holds Python objects, not numbers "
                                "(gradviz reads arrays of numbers only)")
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > info.file_size - header:
                    raise error(f"{path}: the array {name!r} claims {math.prod(shape):,} "
                                f"values ({fmt_bytes(nbytes)}) but holds {fmt_bytes(info.file_size - header)}")
                out[name] = (dtype, shape)
                total += nbytes
    except zipfile.BadZipFile:
        raise error(f"{path}: not a {what} (an .npz is NumPy's zip archive of arrays)") from None
    except (OSError, EOFError, zlib.error):
        raise error(f"{path}: a damaged {what} (its zip archive cannot be read)") from None
    check_fits(path, total, error, "its arrays")
    return out


def _npy_header(fh, path, name: str, error) -> tuple[np.dtype, tuple, int]:
    """(dtype, shape, header length) of one .npy member."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:
            shape, _, dtype = fmt._read_array_header(fh, version)  # 3.0: NumPy has no public reader
    except (ValueError, TypeError, SyntaxError, OSError, EOFError, zlib.error):
        raise error(f"{path}: the array {name!r} has no readable .npy header") from None
    return np.dtype(dtype), tuple(int(d) for d in shape), fh.tell()


# ---- writing ---------------------------------------------------------------------------------------
def check_output(path) -> None:
    """Refuse, before anything is written, an output path that cannot take a file: a missing
    folder, a folder, something that is not a file, a folder without write permission."""
    p = Path(path)
    parent = p.parent
    if p.name in ("", ".", ".."):
        raise OutputError(f"{path}: give a file name to write, not a folder")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise OutputError(f"{path}: cannot be written: a part of the path is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: is a folder; give the name of a file to write, e.g. {p / ('out' + (p.suffix or '.json'))}")
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise OutputError(f"{path}: is {kind}; give the name of a file to write")
    if not parent.is_dir():
        missing = next((a for a in [parent, *parent.parents] if not a.exists()), parent)
        why = "there is no folder" if not parent.exists() else "this is a file, not a folder:"
        raise OutputError(f"{path}: cannot be written: {why} {missing if not parent.exists() else parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot be written: no permission to write in the folder {parent}")


def write_failed(path, exc: OSError) -> OutputError:
    """The refusal for a write that failed midway (the disk full, the folder gone)."""
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EACCES: "permission denied", errno.EROFS: "the disk is read-only"}.get(exc.errno)
    return OutputError(f"{path}: cannot be written ({why or exc.strerror or exc}); nothing was changed")
