"""The user's own data: CSV (feature columns and a label column) and NPZ (X, y).

Every problem is reported with its file, row and column, e.g.
``points.csv: row 7, column 'x2': 'abc' is not a number``.
"""
from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np

from gradviz_core import fsio
from gradviz_core.errors import GradvizError
from gradviz_core.memory import data_bytes


class DataError(GradvizError):
    """A data spec or data file that cannot be used; the message says where and why."""


MAX_REPORTED = 5


def read_csv(path: Path, label: str | int | None = None, shape: list[int] | None = None):
    """Read a CSV with a header row. The label column is ``label`` (a name or a 0-based
    index; the last column by default). Integer labels make a classification set, any
    other numbers a regression set. ``shape`` reshapes each row of features, e.g. [1, 8, 8].
    -> X (n, *shape), y (n,)
    """
    size = fsio.regular_file(path, DataError, ".csv file")
    # read as text, a cell of a few characters becomes a float64 and then its copies
    fsio.check_fits(path, 4 * size * 8, DataError, "its table of numbers")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (a CSV file is text: a header row, then rows of "
                        "numbers separated by commas)") from None
    except csv.Error:
        raise DataError(f"{path}: not a readable CSV file (a cell holds a character a CSV file "
                        "cannot hold, or a quote is never closed)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    col = _label_column(path, header, label)
    if len(header) < 2:
        raise DataError(f"{path}: has a single column, which is taken as the label: there are no feature "
                        "columns (a CSV needs a header row, one column per feature and one for the label, "
                        "separated by commas)")
    problems: list[str] = []
    X = np.zeros((len(rows) - 1, len(header) - 1))
    labels: list[float] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(f"row {r}: has {len(row)} cells but the header has {len(header)}")
            labels.append(math.nan)
            continue
        j = 0
        for c, cell in enumerate(row):
            value = _number(cell, r, header[c], problems, "label" if c == col else "feature")
            if c == col:
                labels.append(value)
            else:
                X[r - 2, j] = value
                j += 1
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise DataError(f"{path}: " + "; ".join(problems[:MAX_REPORTED]) + more)
    y = np.asarray(labels)
    if shape:
        X = _reshape(path, X, shape)
    return X, _labels(y)


def _label_column(path, header, label) -> int:
    if label is None:
        return len(header) - 1
    if isinstance(label, int):
        if not 0 <= label < len(header):
            raise DataError(f"{path}: label column {label} does not exist (the file has {len(header)} columns)")
        return label
    if label not in header:
        raise DataError(f"{path}: no column named {label!r} (columns: {', '.join(header)})")
    return header.index(label)


def _number(cell: str, row: int, column: str, problems: list, role: str) -> float:
    text = cell.strip()
    if text == "" or text.lower() in ("na", "nan", "null", "none", "?"):
        problems.append(f"row {row}, column {column!r}: missing value")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        problems.append(f"row {row}, column {column!r}: {text!r} is not a number"
                        + (" (labels must be numbers: class indices 0, 1, … or real values)"
                           if role == "label" else ""))
        return math.nan
    if not math.isfinite(value):
        problems.append(f"row {row}, column {column!r}: {text!r} is not finite")
    return value


def _labels(y: np.ndarray) -> np.ndarray:
    if np.all(y == np.round(y)) and y.min() >= 0:
        return y.astype(np.int64)
    return y.astype(np.float64)


def _reshape(path, X, shape):
    if math.prod(shape) != X.shape[1]:
        raise DataError(f"{path}: each row has {X.shape[1]} features, which cannot be shaped as "
                        f"{'×'.join(map(str, shape))} = {math.prod(shape)}")
    return X.reshape((len(X), *shape))


def read_npz(path: Path, shape: list[int] | None = None):
    """An .npz with arrays X (n, ...) and y (n,)."""
    arrays = fsio.npz_arrays(path, DataError, ".npz file")  # sized from the headers first
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(f"{path}: needs arrays named X and y; it has {', '.join(arrays) or 'none'}")
    sx = arrays["X"][1]
    fsio.check_fits(path, data_bytes(sx[0] if sx else 1, math.prod(sx[1:])), DataError, "X as float64")
    try:
        with np.load(path, allow_pickle=False) as npz:
            X, y = npz["X"], npz["y"]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise DataError(f"{path}: a damaged .npz file (its arrays X and y cannot be read)") from None
    for name, a in (("X", X), ("y", y)):
        if a.ndim == 0:
            raise DataError(f"{path}: {name} is a single number, not an array with one row per sample")
    if len(X) == 0:
        raise DataError(f"{path}: X is empty (0 samples, shape {X.shape}); it needs one row per sample")
    if X.dtype.kind not in "iuf" or y.dtype.kind not in "iuf":
        raise DataError(f"{path}: X and y must hold numbers (X is {X.dtype}, y is {y.dtype})")
    if len(X) != len(y):
        raise DataError(f"{path}: X has {len(X)} samples but y has {len(y)} labels")
    if y.ndim not in (1, 2):
        raise DataError(f"{path}: y must be one label per sample (n,) or a table of labels (n, T), "
                        f"not {y.shape}")
    X = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(X.reshape(len(X), -1)))
    if len(bad):
        r, c = bad[0]
        raise DataError(f"{path}: X has {len(bad)} missing or non-finite values, the first at sample {r}, "
                        f"feature {c}")
    if not np.all(np.isfinite(y)):
        raise DataError(f"{path}: y has missing or non-finite labels, the first at sample "
                        f"{int(np.argmax(~np.isfinite(y)))}")
    if X.ndim == 1:
        X = X[:, None]
    if shape:
        X = _reshape(path, X.reshape(len(X), -1), shape)
    return X, _labels(y.astype(np.float64))
