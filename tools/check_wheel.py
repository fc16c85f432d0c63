"""Check what a built wheel (and the sdist beside it) holds: every module of both packages,
every example with its data, the file format's schema, the app's icon, the licence, the
version and the ``gradviz`` command.

    python -m build --outdir dist && python tools/check_wheel.py dist
"""
from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def expected() -> set[str]:
    want = {f"gradviz_core/examples/{p.name}" for p in (ROOT / "examples").iterdir() if p.is_file()}
    want |= {"gradviz_core/schema/graph.schema.json", "gradviz/assets/gradviz.svg"}
    for top in ("gradviz", "gradviz_core"):
        want |= {str(p.relative_to(ROOT)) for p in (ROOT / top).rglob("*.py")}
    return want


def check(dist: Path) -> list[str]:
    wheels, sdists = sorted(dist.glob("gradviz-*.whl")), sorted(dist.glob("gradviz-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{dist}: expected one wheel and one sdist, found {len(wheels)} and {len(sdists)}"]
    sys.path.insert(0, str(ROOT))
    from gradviz_core import __version__
    problems = []
    with zipfile.ZipFile(wheels[0]) as z:
        names = set(z.namelist())
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    problems += [f"{wheels[0].name} lacks {m}" for m in sorted(expected() - names)]
    if not any(n.endswith("licenses/LICENSE") for n in names):
        problems.append(f"{wheels[0].name} lacks the licence")
    if f"Version: {__version__}\n" not in text:
        problems.append(f"{wheels[0].name}: its metadata is not version {__version__}")
    if "gradviz = gradviz.cli:main" not in entry:
        problems.append(f"{wheels[0].name}: no gradviz command")
    with tarfile.open(sdists[0]) as t:
        inside = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    problems += [f"{sdists[0].name} lacks {m}" for m in ("README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml",
                                                          "examples/circuit_xyz.json", "tests/conftest.py")
                 if m not in inside]
    return problems


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    dist = Path(argv[0] if argv else "dist")
    problems = check(dist)
    for p in problems:
        print(p)
    if not problems:
        print(f"{dist}: the wheel and the sdist hold every module, example, the schema, the icon and the licence")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
