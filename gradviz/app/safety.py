"""Where the app keeps its own state: settings (recent files) and the crash-recovery copy.

GRADVIZ_STATE_DIR moves all of it (the tests point it at a temporary folder).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from gradviz_core.model import fileformat
from gradviz_core.errors import GradvizError
from gradviz_core.model.graph import Graph

RECENT_MAX = 8


def state_dir() -> Path:
    base = os.environ.get("GRADVIZ_STATE_DIR") or QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    path = Path(base or Path.home() / ".gradviz")
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings() -> QSettings:
    return QSettings(str(state_dir() / "settings.ini"), QSettings.IniFormat)


def recent_files() -> list[str]:
    value = settings().value("recent", [])
    files = [value] if isinstance(value, str) else list(value or [])
    return [f for f in files if Path(f).exists()]


def remember(path: Path) -> None:
    files = [str(path)] + [f for f in recent_files() if f != str(path)]
    settings().setValue("recent", files[:RECENT_MAX])


def save_recovery(graph: Graph, original: Path | None) -> Path:
    """Write the unsaved document (atomically) and where it came from."""
    target = state_dir() / "recovery.json"
    fileformat.save(graph, target)
    meta = {"path": str(original) if original else None, "time": time.time()}
    fileformat.atomic_write(state_dir() / "recovery-meta.json", json.dumps(meta).encode())
    return target


def pending_recovery() -> tuple[Graph, Path | None, float] | None:
    """The document left by a session that did not close cleanly, if any."""
    target = state_dir() / "recovery.json"
    if not target.exists():
        return None
    try:
        meta = json.loads((state_dir() / "recovery-meta.json").read_text(encoding="utf-8"))
        graph = fileformat.load(target)
    except (OSError, ValueError, GradvizError):
        clear_recovery()
        return None
    return graph, (Path(meta["path"]) if meta.get("path") else None), float(meta.get("time", 0))


def clear_recovery() -> None:
    for name in ("recovery.json", "recovery-meta.json"):
        (state_dir() / name).unlink(missing_ok=True)
