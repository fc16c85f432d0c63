"""The engine's folders are its architecture, and its imports run one way:

    base (errors, events, params, shapes, memory, fsio) ← kernels ← data ← model ← bricks ← runs
    ← teach | formats | perf

A module imports only from its own layer or below (lazy imports inside functions count too),
and the three top layers never import each other. The window has floors of its own:

    look ← sessions ← canvas ← panels ← app ← bench ← cli

and only the sessions (and the command line) reach the engine's runs and teaching helpers.
"""
import ast
from pathlib import Path

from conftest import ROOT

LAYERS = [("base", {"errors", "events", "params", "shapes", "memory", "fsio"}), ("kernels", {"kernels"}), ("data", {"data"}),
          ("model", {"model"}), ("bricks", {"bricks"}), ("runs", {"runs"}), ("top", {"teach", "formats", "perf"})]
RANK = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, the gradviz_core module) of every import in a file: ``from gradviz_core import x``
    names the module x where x is one."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gradviz_core":
            if node.module == "gradviz_core":
                out += [(node.lineno, f"gradviz_core.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "gradviz_core"]
    return out


def part(module: str) -> str | None:
    """The first part below gradviz_core (``gradviz_core.model.graph`` -> ``model``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_engine_imports_one_way_down_its_layers():
    wrong = []
    for path in sorted((ROOT / "gradviz_core").rglob("*.py")):
        rel = path.relative_to(ROOT / "gradviz_core")
        if rel.parts == ("__init__.py",) or rel.parts[0] in ("examples", "schema"):
            continue  # the package's face hands names on from every layer
        mine = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        assert mine in RANK, f"gradviz_core/{rel}: in no layer of this test; add its folder to LAYERS"
        for line, module in imports(path):
            other = part(module)
            if other is None or other in ("__version__",):
                continue
            if other not in RANK:
                wrong.append(f"gradviz_core/{rel}:{line} imports {module}, which is in no layer")
            elif RANK[other] > RANK[mine] or (RANK[mine] == RANK["teach"] and other != mine and RANK[other] == RANK[mine]):
                wrong.append(f"gradviz_core/{rel}:{line} ({mine}) imports {module} ({other}), against the layers")
    assert not wrong, "\n".join(wrong)


def test_the_check_itself_sees_an_import_against_the_layers(tmp_path):
    bad = tmp_path / "graph.py"
    bad.write_text("def f():\n    from gradviz_core.runs.optim import OPTIMIZERS\n    from gradviz_core import teach\n")
    assert imports(bad) == [(2, "gradviz_core.runs.optim"), (3, "gradviz_core.teach")]
    assert RANK["runs"] > RANK["model"] and RANK["teach"] > RANK["runs"]


#: the window's floors, lowest first: a module imports only from its own floor or below
GUI_FLOORS = ["look", "sessions", "canvas", "panels", "app", "bench", "cli"]
GUI_RANK = {name: i for i, name in enumerate(GUI_FLOORS)}


def gui_imports(path: Path) -> list[tuple[int, str]]:
    """(line, the gradviz module) of every import of the GUI package in a file, lazy ones too;
    ``from gradviz import x`` names gradviz.x."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gradviz":
            if node.module == "gradviz":
                out += [(node.lineno, f"gradviz.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "gradviz"]
    return out


def gui_floor(rel: Path) -> str | None:
    """The floor of a file under gradviz/ (``panels/values.py`` -> panels, ``cli.py`` -> cli)."""
    if len(rel.parts) > 1:
        return rel.parts[0]
    return {"cli.py": "cli"}.get(rel.name)


def test_the_window_imports_one_way_down_its_floors():
    """look < sessions < canvas < panels < app < bench < cli, checked import by import (a lazy
    import inside a function counts; so does one that reaches a floor through another module)."""
    wrong, loose = [], []
    graph = {}
    for path in sorted((ROOT / "gradviz").rglob("*.py")):
        rel = path.relative_to(ROOT / "gradviz")
        if rel.parts[0] == "assets" or rel.name in ("__init__.py", "__main__.py") and len(rel.parts) == 1:
            continue
        mine = gui_floor(rel)
        if mine not in GUI_RANK:
            loose.append(f"gradviz/{rel}")
            continue
        module = "gradviz." + ".".join(rel.with_suffix("").parts)
        graph[module] = (mine, [m for _, m in gui_imports(path)])
        for line, other in gui_imports(path):
            parts = other.split(".")
            theirs = parts[1] if len(parts) > 1 else None
            if theirs not in GUI_RANK:
                wrong.append(f"gradviz/{rel}:{line} imports {other}, on no floor")
            elif GUI_RANK[theirs] > GUI_RANK[mine]:
                wrong.append(f"gradviz/{rel}:{line} ({mine}) imports {other} ({theirs}): up a floor")
    assert not loose, f"modules on no floor (put each in a folder of GUI_FLOORS): {loose}"
    # indirect: whatever a module reaches through the modules it imports stays at or below its floor
    for module, (mine, direct) in graph.items():
        seen, todo = set(), list(direct)
        while todo:
            m = todo.pop()
            if m in seen or m not in graph:
                continue
            seen.add(m)
            theirs = graph[m][0]
            if GUI_RANK[theirs] > GUI_RANK[mine]:
                wrong.append(f"{module} ({mine}) reaches {m} ({theirs}) through its imports")
            todo += graph[m][1]
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_only_the_sessions_reach_the_engines_runs_and_teaching():
    """Below the command line, the sessions are the one floor that reads gradviz_core.runs and
    gradviz_core.teach: the panels, the canvas and the app paint and wire what the sessions hold."""
    wrong = []
    for path in sorted((ROOT / "gradviz").rglob("*.py")):
        rel = path.relative_to(ROOT / "gradviz")
        if gui_floor(rel) in ("sessions", "cli"):
            continue
        wrong += [f"gradviz/{rel}:{line} imports {module}" for line, module in imports(path)
                  if part(module) in ("runs", "teach")]
    assert not wrong, "\n".join(wrong)


def test_the_floor_check_sees_an_import_up_a_floor(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from gradviz.app.main_window import MainWindow\n    from gradviz import cli\n")
    assert gui_imports(bad) == [(2, "gradviz.app.main_window"), (3, "gradviz.cli")]
    assert GUI_RANK["look"] < GUI_RANK["sessions"] < GUI_RANK["panels"] < GUI_RANK["app"]


def test_every_gui_floor_says_what_it_holds():
    for floor in GUI_FLOORS[:-1]:
        init = ROOT / "gradviz" / floor / "__init__.py"
        assert init.exists() and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), floor
