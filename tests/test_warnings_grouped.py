"""A kind of warning found at many nodes is told once, with the count: in the command line and
in the window's diagnostics. And a class loss whose scores do not number the classes is a
problem that names both numbers."""
import json

import pytest

from gradviz_core.runs.babysit import Warning, group_line, grouped


def deep_dead_net(tmp_path, layers=6):
    """x → (Linear, zero weights, bias −1 → ReLU) × layers → Linear(3) → softmax: every ReLU dead."""
    nodes = [{"name": "x", "type": "Input"}, {"name": "y", "type": "Target"}]
    edges, prev = [], "x"
    for i in range(1, layers + 1):
        nodes += [{"name": f"fc{i}", "type": "Linear", "params": {"units": 4, "init": "zeros", "bias_init": -1.0}},
                  {"name": f"relu{i}", "type": "ReLU"}]
        edges += [{"from": prev, "to": f"fc{i}", "port": "x"}, {"from": f"fc{i}", "to": f"relu{i}", "port": "x"}]
        prev = f"relu{i}"
    nodes += [{"name": "out", "type": "Linear", "params": {"units": 3}}, {"name": "loss", "type": "SoftmaxCrossEntropy"}]
    edges += [{"from": prev, "to": "out", "port": "x"}, {"from": "out", "to": "loss", "port": "x"},
              {"from": "y", "to": "loss", "port": "target"}]
    doc = {"format": "gradviz-graph", "version": 1, "title": "dead", "seed": 0, "nodes": nodes, "edges": edges,
           "data": {"source": "spiral", "n": 60, "classes": 3}, "training": {"epochs": 2, "batch_size": 60}}
    path = tmp_path / "dead.json"
    path.write_text(json.dumps(doc))
    return path


def test_grouped_tells_each_kind_once_with_its_nodes():
    ws = [Warning("dead_relu", f"relu{i}", 1.0, f"relu{i}: 100% of its ReLUs are dead") for i in range(1, 241)]
    ws.insert(3, Warning("update_ratio_low", "fc1", 1e-7, "fc1/W: tiny updates"))
    groups = grouped(ws)
    assert [(first.code, len(nodes)) for first, nodes in groups] == [("dead_relu", 240), ("update_ratio_low", 1)]
    line = group_line(*groups[0])
    assert line.startswith("240 nodes (relu1, relu2, relu3, … relu240) — the first: relu1: 100%")
    assert group_line(*groups[1]) == "fc1/W: tiny updates"


def test_the_command_line_prints_a_kind_of_warning_once_with_the_count(tmp_path, cli):
    code, out, err = cli("train", deep_dead_net(tmp_path))
    assert code == 0, err
    dead = [line for line in err.splitlines() if "ReLUs are dead" in line]
    assert len(dead) == 2, err  # the first at once, then one line with the count (not one per layer)
    assert dead[-1].startswith("gradviz: warning: 6 nodes (relu1, relu2, relu3, … relu6)")


def test_a_softmax_over_more_scores_than_classes_is_a_problem_naming_both(examples_dir):
    from gradviz_core.model import fileformat
    from gradviz_core.model.commands import SetParam
    g = fileformat.load(examples_dir / "spiral_mlp.json")
    assert not g.problems
    SetParam("fc2", "units", 16).do(g)
    [p] = g.problems
    assert p.node == "loss" and "fc2 gives 16 scores per sample, but the data has 3 classes" in p.message
    SetParam("fc2", "units", 2).do(g)
    assert "fc2 gives 2 scores per sample, but the data has 3 classes" in g.problems[0].message


def test_the_window_lists_a_kind_of_warning_once(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    from PySide6.QtWidgets import QMessageBox
    from gradviz.app.main_window import MainWindow
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow(str(deep_dead_net(tmp_path)))
    qtbot.addWidget(w)
    w.show()
    w.training_panel.start.click()
    qtbot.waitUntil(lambda: w.train_session.result is not None, timeout=120000)
    w.dashboard.diagnostics.refresh()
    items = [w.dashboard.diagnostics.warnings.item(i).text()
             for i in range(w.dashboard.diagnostics.warnings.count())]
    dead = [t for t in items if "ReLUs are dead" in t]
    assert len(dead) == 1 and dead[0].startswith("⚠ 6 nodes (relu1, relu2, relu3, … relu6)"), items
