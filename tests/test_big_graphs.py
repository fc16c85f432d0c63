"""Big graphs cost in proportion to their size (issue 28): a graph file or an imported model is
analysed once, not after each of its nodes and edges; a step and its undo touch what the step
changed, not every value held; a step in the window repaints the nodes it changed. (The times
themselves are measured by ``gradviz bench --sizes``, never asserted here.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

from gradviz_core import Graph, GraphError
from gradviz_core.model import analysis, commands, fileformat
from gradviz_core.perf.sizes import chain_doc
from gradviz_core.runs.stepper import Stepper


@pytest.fixture
def analyses(monkeypatch):
    """How many times a graph has been analysed (``analysis.infer``) since the fixture was made."""
    count = [0]
    real = analysis.infer

    def counting(graph):
        count[0] += 1
        return real(graph)

    monkeypatch.setattr(analysis, "infer", counting)
    return count


def test_a_graph_file_of_hundreds_of_nodes_is_analysed_once(analyses):
    doc = chain_doc(301)
    g = fileformat.loads(json.dumps(doc))
    assert analyses[0] == 1
    assert len(g.nodes()) == len(doc["nodes"]) >= 299 and not g.problems
    assert g.shapes["scores"][-1] == 4
    assert g.shapes["t100"][-1] == 8


def test_a_batch_of_edits_is_analysed_once_at_its_end_even_when_an_edit_fails(analyses):
    g = Graph()
    g.add_node("Input", "x")
    g.set_data({"source": "random", "n": 8, "shape": [3], "classes": 2})
    before = analyses[0]
    with pytest.raises(GraphError):
        with g.batch():
            g.add_node("Linear", "fc", {"units": 2})
            g.connect("x", "fc", "x")
            assert g.shapes.get("fc") is None  # not analysed yet, inside the batch
            g.connect("x", "fc", "x")  # the port is taken: refused
    assert analyses[0] == before + 1
    assert g.shapes["fc"][-1] == 2  # the edits before the failure stand, analysed


def test_a_cycle_made_inside_a_batch_is_still_refused_with_its_path():
    g = Graph()
    with g.batch():
        for n in ("a", "b", "c"):
            g.add_node("Tanh", n)
        g.connect("a", "b", "x")
        g.connect("b", "c", "x")
        with pytest.raises(GraphError, match="cycle"):
            g.connect("c", "a", "x")


def test_deleting_many_nodes_and_undoing_it_analyses_once_each_way(analyses):
    g = fileformat.loads(json.dumps(chain_doc(101)))
    names = [n for n in g.nodes() if n.startswith("t")]
    cmd = commands.RemoveNodes(names)
    start = analyses[0]
    cmd.do(g)
    assert analyses[0] == start + 1 and not set(names) & set(g.nodes())
    cmd.undo(g)
    assert analyses[0] == start + 2
    assert not g.problems and len(g.edges()) == len(chain_doc(101)["edges"])


def test_a_step_and_its_undo_write_only_what_the_step_changed():
    """A step's undo data is the few entries it wrote (not a copy of every value held), and
    stepping back through a whole pass puts every value and gradient back exactly."""
    g = fileformat.loads(json.dumps(chain_doc(61)))
    s = Stepper(g, training=True, dtype=np.float64)
    s.run_phase("backward")
    values, grads = dict(s.values), dict(s.grads)
    logs = [snap[0] for _, snap in s._history]
    assert max(len(v) + len(gr) + len(c) for v, gr, c in logs) <= 3
    mid = len(s.plan) // 2
    while s.position > mid:
        s.step_back()
    assert set(s.values) == set(values) and len(s.grads) < len(grads)
    while s.position:
        s.step_back()
    assert not s.values and not s.grads and not s.contributions
    s.run_phase("backward")
    assert all(np.array_equal(s.values[k], values[k]) for k in values)
    assert all(np.array_equal(s.grads[k], grads[k]) for k in grads)


def test_an_update_step_back_restores_the_optimizer_state():
    g = fileformat.loads(json.dumps(chain_doc(9)))
    g.training.update(optimizer="sgd", momentum=0.9)
    s = Stepper(g, training=True, dtype=np.float64)
    s.run_phase("backward")
    before = s.optimizer.state_copy()
    node = s.next_step()[1]
    w = {k: v.copy() for k, v in s.run.bricks[node].weights.items()}
    s.step()  # the first update: a velocity is kept
    assert len(s.optimizer.state_copy()) > len(before)
    s.step_back()
    assert s.optimizer.state_copy().keys() == before.keys()
    assert all(np.array_equal(s.run.bricks[node].weights[k], w[k]) for k in w)


def residual_net(blocks: int = 2):
    """Input → conv → relu, then ``blocks`` residual blocks (conv → relu → conv, + the shortcut,
    then relu), then a classifier: the graph of a small ResNet."""
    g = Graph()
    with g.batch():
        g.set_data({"source": "random", "n": 8, "shape": [2, 4, 4], "classes": 3})
        g.add_node("Input", "x")
        g.add_node("Conv2D", "stem", {"filters": 3, "size": 3, "padding": 1})
        g.add_node("ReLU", "r0")
        g.connect("x", "stem", "x")
        g.connect("stem", "r0", "x")
        prev = "r0"
        for i in range(1, blocks + 1):
            a, ra, b, s, out = f"c{i}a", f"r{i}a", f"c{i}b", f"add{i}", f"r{i}"
            g.add_node("Conv2D", a, {"filters": 3, "size": 3, "padding": 1})
            g.add_node("ReLU", ra)
            g.add_node("Conv2D", b, {"filters": 3, "size": 3, "padding": 1})
            g.add_node("AddN", s, {"inputs": 2})
            g.add_node("ReLU", out)
            for src, dst, port in ((prev, a, "x"), (a, ra, "x"), (ra, b, "x"), (b, s, "in0"), (prev, s, "in1"),
                                   (s, out, "x")):
                g.connect(src, dst, port)
            prev = out
        for src, (n, t, p) in zip((prev, "flat"), (("flat", "Flatten", {}), ("fc", "Linear", {"units": 3}))):
            g.add_node(t, n, p)
            g.connect(src, n, "x")
        g.add_node("Target", "y")
        g.add_node("SoftmaxCrossEntropy", "loss")
        g.connect("fc", "loss", "x")
        g.connect("y", "loss", "target")
    from gradviz_core.model.layout import layered_positions
    for name, pos in layered_positions(g).items():
        g.move_node(name, pos)
    return g


def test_the_blocks_of_a_residual_net_are_its_residual_blocks():
    from gradviz_core.model.blocks import find_blocks
    g = residual_net(3)
    assert not g.problems
    blocks = find_blocks(g)
    assert [b.name for b in blocks] == ["add1", "add2", "add3"]
    assert blocks[0].nodes == ("c1a", "r1a", "c1b", "add1") and blocks[0].entry == "r0"
    assert blocks[1].entry == "r1" and blocks[2].nodes[-1] == "add3"
    assert blocks[0].params == g.param_count("c1a") + g.param_count("c1b") == 2 * (3 * 3 * 3 * 3 + 3)
    assert blocks[0].shape == g.shapes["add1"]


def test_a_chain_has_no_blocks_and_nested_merges_give_the_smallest():
    from gradviz_core.model.blocks import find_blocks
    assert find_blocks(fileformat.loads(json.dumps(chain_doc(31)))) == []
    g = residual_net(1)
    with g.batch():  # a second merge around the whole block: the inner one is the block
        g.add_node("AddN", "outer", {"inputs": 2})
        g.disconnect("flat", "x")
        g.connect("r1", "outer", "in0")
        g.connect("r0", "outer", "in1")
        g.connect("outer", "flat", "x")
    assert [b.name for b in find_blocks(g)] == ["add1"]
