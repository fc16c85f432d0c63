"""Undoable commands: each one's undo restores the graph exactly, and redo repeats it."""
import numpy as np
import pytest

from gradviz_core import GraphError
from gradviz_core.model import fileformat
from gradviz_core.model.commands import AddNode, Connect, Disconnect, Group, MoveNodes, RemoveNodes, SetParam


def snapshot(g):
    return fileformat.to_dict(g)


@pytest.fixture
def circuit(examples_dir):
    return fileformat.load(examples_dir / "circuit_xyz.json")


def check_roundtrip(g, cmd):
    before = snapshot(g)
    cmd.do(g)
    after = snapshot(g)
    assert after != before
    cmd.undo(g)
    assert snapshot(g) == before
    cmd.do(g)
    assert snapshot(g) == after


def test_each_command_undoes_and_redoes(circuit):
    check_roundtrip(circuit, AddNode("Exp", pos=(5, 5)))
    check_roundtrip(circuit, SetParam("x", "value", 7.5))
    check_roundtrip(circuit, MoveNodes({"q": (circuit.pos("q"), (300, 90))}))
    check_roundtrip(circuit, Disconnect("f", "b"))
    check_roundtrip(circuit, RemoveNodes(["q", "z"]))


def test_connect_replaces_and_puts_back(circuit):
    cmd = Connect("z", "q", "a")  # q.a held x
    cmd.do(circuit)
    assert circuit.source_of("q", "a") == "z"
    cmd.undo(circuit)
    assert circuit.source_of("q", "a") == "x"


def test_refused_connect_changes_nothing(circuit):
    before = snapshot(circuit)
    with pytest.raises(GraphError, match="would close a cycle"):
        Connect("f", "q", "a").do(circuit)
    assert snapshot(circuit) == before


def test_remove_keeps_trained_weights_on_undo(examples_dir):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.build()  # the document's own weights (as loaded from a weights file)
    w = g.brick("fc1").weights["W"].copy()
    cmd = RemoveNodes(["fc1"])
    cmd.do(g)
    assert "fc1" not in g and g.source_of("relu1", "x") is None
    cmd.undo(g)
    np.testing.assert_array_equal(g.brick("fc1").weights["W"], w)
    assert g.source_of("relu1", "x") == "fc1" and g.source_of("fc1", "x") == "x"


def test_group_is_one_step_and_rolls_back_on_failure(circuit):
    before = snapshot(circuit)
    group = Group("paste", [AddNode("Exp", "e"), Connect("f", "e", "x")])
    group.do(circuit)
    assert circuit.source_of("e", "x") == "f"
    group.undo(circuit)
    assert snapshot(circuit) == before
    bad = Group("bad", [AddNode("Exp", "e2"), Connect("e2", "x", "nope")])
    with pytest.raises(GraphError):
        bad.do(circuit)
    assert snapshot(circuit) == before
