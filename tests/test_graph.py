"""Graph edits, validation messages, shape inference and parameter counts."""
import numpy as np
import pytest

from gradviz_core import Graph, GraphError


def chain(*specs, data=None):
    """A graph of nodes wired one after another through port x."""
    g = Graph()
    if data:
        g.set_data(data)
    prev = None
    for name, type_name, params in specs:
        g.add_node(type_name, name, params)
        if prev:
            g.connect(prev, name, "x")
        prev = name
    return g


IMAGES = {"source": "inline", "X": np.zeros((4, 1 * 28 * 28)).tolist(), "y": [0, 1, 0, 1]}


def test_shapes_and_param_counts_of_a_small_convnet():
    g = Graph()
    g.set_data({"source": "spiral", "n": 30, "classes": 3})
    g.add_node("Input", "x")
    g.add_node("Linear", "fc1", {"units": 16})
    g.add_node("ReLU", "r")
    g.add_node("Linear", "fc2", {"units": 3})
    for a, b in [("x", "fc1"), ("fc1", "r"), ("r", "fc2")]:
        g.connect(a, b, "x")
    assert g.shapes == {"x": (None, 2), "fc1": (None, 16), "r": (None, 16), "fc2": (None, 3)}
    assert g.param_count("fc1") == 2 * 16 + 16
    assert g.brick("fc1").param_count_text(g.input_shapes("fc1")) == "D·K + K = 2·16 + 16 = 48"
    assert g.total_params() == 48 + 16 * 3 + 3
    assert g.problems == []


def test_conv_param_count_follows_the_lecture_formula():
    g = Graph()
    g.add_node("Constant", "img", {"value": np.zeros((1, 3, 32, 32)).tolist()})
    g.add_node("Conv2D", "conv1", {"filters": 10, "size": 5, "padding": 2})
    g.connect("img", "conv1", "x")
    assert g.shapes["conv1"] == (1, 10, 32, 32)
    assert g.param_count("conv1") == (5 * 5 * 3) * 10 + 10  # (F·F·D1)·K + K = 760
    g.set_param("conv1", "groups", 1)
    assert "(F·F·D)·K + K = (5·5·3)·10 + 10 = 760" == g.brick("conv1").param_count_text(g.input_shapes("conv1"))


def test_conv_shape_error_shows_the_arithmetic_and_a_fix():
    g = Graph()
    g.add_node("Constant", "img", {"value": np.zeros((1, 1, 28, 28)).tolist()})
    g.add_node("Conv2D", "conv1", {"filters": 6, "size": 5, "stride": 2})
    g.connect("img", "conv1", "x")
    [problem] = g.problems
    assert problem.node == "conv1" and problem.port == "x"
    assert "conv1" in problem.message
    assert "(H − F + 2P)/S + 1 = (28 − 5 + 0)/2 + 1 = 12.5 is not a whole number" in problem.message
    # with S = 2, padding changes the span by 2P and cannot help: the hint says what can
    assert problem.message.endswith("try stride 1 or size 4")
    assert g.shapes["conv1"] is None
    g.set_param("conv1", "stride", 3)
    g.set_param("conv1", "size", 3)  # (28 − 3 + 0)/3 + 1: padding 1 fixes it
    assert g.problems[0].message.endswith("try stride 1 or padding 1 or size 4")
    g.set_param("conv1", "padding", 1)
    assert g.problems == [] and g.shapes["conv1"] == (1, 6, 10, 10)


def test_linear_after_images_suggests_flatten():
    g = Graph()
    g.set_data(IMAGES)
    g.add_node("Input", "x")
    g.add_node("Constant", "c", {"value": np.zeros((1, 28, 28)).tolist()})
    g.add_node("Add", "add")
    g.add_node("Linear", "fc")
    g.connect("c", "add", "a")
    g.connect("add", "fc", "x")
    g.connect("x", "add", "b")
    msg = " ".join(p.message for p in g.problems)
    assert "add" in msg and "do not broadcast" in msg and "(N, 784)" in msg
    g.disconnect("add", "b")
    g.disconnect("add", "a")
    g.connect("c", "add", "a")
    g.connect("c", "add", "b")
    [problem] = g.problems
    assert problem.node == "fc" and "Flatten" in problem.message and "(1, 28, 28)" in problem.message


def test_unconnected_input_is_named():
    g = Graph()
    g.add_node("Constant", "x", {"value": 1.0})
    g.add_node("Multiply", "m")
    g.connect("x", "m", "a")
    [problem] = g.problems
    assert (problem.node, problem.port) == ("m", "b")
    assert "input 'b' of Multiply is not connected" in problem.message
    with pytest.raises(GraphError, match="input 'b' of Multiply is not connected"):
        g.check()


def test_cycles_are_refused_with_the_path():
    g = chain(("a", "Constant", {}), ("b", "Exp", {}), ("c", "Negate", {}))
    g.add_node("Add", "d")
    g.connect("c", "d", "a")
    g.connect("a", "d", "b")
    g.disconnect("b", "x")
    with pytest.raises(GraphError) as err:
        g.connect("d", "b", "x")
    assert str(err.value) == ("connecting d → b would close a cycle b → c → d → b; "
                              "a computational graph must be acyclic")
    assert g.source_of("b", "x") is None  # nothing changed
    with pytest.raises(GraphError, match="already connected to c"):
        g.connect("a", "d", "a")


def test_cycle_found_by_analysis_names_every_node():
    g = chain(("a", "Constant", {}), ("b", "Exp", {}), ("c", "Exp", {}))
    g.g.add_edge("c", "b", key="x2")  # as a hand-edited structure might
    problems = g.analyze()
    cyc = [p for p in problems if "cycle" in p.message]
    assert {p.node for p in cyc} == {"b", "c"}
    assert "b → c → b" in cyc[0].message or "c → b → c" in cyc[0].message


def test_bad_ports_and_params_are_refused():
    g = Graph()
    g.add_node("Constant", "x")
    g.add_node("Linear", "fc")
    with pytest.raises(GraphError, match="fc has no input port 'y' \\(its ports: x\\)"):
        g.connect("x", "fc", "y")
    with pytest.raises(GraphError, match="parameter .units. must be ≥ 1 and ≤ 100000, got 0"):
        g.set_param("fc", "units", 0)
    with pytest.raises(GraphError, match="has no parameter 'unit'"):
        g.set_param("fc", "unit", 3)
    with pytest.raises(GraphError, match="parameter 'init' must be one of he, xavier"):
        g.set_param("fc", "init", "glorot")
    with pytest.raises(GraphError, match="already a node named 'fc'"):
        g.add_node("ReLU", "fc")
    with pytest.raises(GraphError, match="unknown brick type 'Relu'; did you mean ReLU"):
        g.add_node("Relu")


def test_shape_refusal_when_asked():
    g = Graph()
    g.add_node("Constant", "v", {"value": [1.0, 2.0, 3.0]})
    g.add_node("Constant", "w", {"value": [1.0, 2.0]})
    g.add_node("Add", "s")
    g.connect("v", "s", "a")
    assert "do not broadcast" in g.connection_error("w", "s", "b")
    with pytest.raises(GraphError, match="do not broadcast"):
        g.connect("w", "s", "b", check_shapes=True)
    assert g.source_of("s", "b") is None


def test_events_follow_every_edit():
    g = Graph()
    seen = []
    g.events.subscribe("*", lambda event, **kw: seen.append(event))
    g.add_node("Constant", "x")
    g.add_node("Exp", "e")
    g.connect("x", "e", "x")
    g.set_param("x", "value", 2.0)
    g.move_node("e", (10, 20))
    g.disconnect("e", "x")
    g.remove_node("x")
    kinds = [e for e in seen if e != "analyzed"]
    assert kinds == ["node_added", "node_added", "edge_added", "param_changed", "node_moved",
                     "edge_removed", "node_removed"]
    assert g.pos("e") == (10.0, 20.0)


def test_weighted_sum_ports_follow_its_weights():
    g = Graph()
    g.add_node("WeightedSum", "total", {"weights": [1.0, 0.5, 0.25]})
    assert g.brick("total").input_ports() == ("in0", "in1", "in2")
    assert len(g.problems) == 3
