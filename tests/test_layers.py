"""The engine's folders are its architecture, and its imports run one way:

    base (errors, events, params, shapes, memory) ← kernels ← data ← model ← bricks ← runs
    ← teach | formats | perf

A module imports only from its own layer or below (lazy imports inside functions count too),
and the three top layers never import each other. In the app, the panels and the canvas reach
runs only through the sessions and the bridge: no panel imports gradviz_core.runs.
"""
import ast
from pathlib import Path

from conftest import ROOT

LAYERS = [("base", {"errors", "events", "params", "shapes", "memory"}), ("kernels", {"kernels"}), ("data", {"data"}),
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


def test_panels_and_the_canvas_reach_runs_through_the_sessions_and_the_bridge():
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for folder in ("panels", "canvas") for path in sorted((ROOT / "gradviz" / folder).rglob("*.py"))
             for line, module in imports(path) if part(module) == "runs"]
    assert not wrong, "\n".join(wrong)


def test_the_check_itself_sees_an_import_against_the_layers(tmp_path):
    bad = tmp_path / "graph.py"
    bad.write_text("def f():\n    from gradviz_core.runs.optim import OPTIMIZERS\n    from gradviz_core import teach\n")
    assert imports(bad) == [(2, "gradviz_core.runs.optim"), (3, "gradviz_core.teach")]
    assert RANK["runs"] > RANK["model"] and RANK["teach"] > RANK["runs"]
