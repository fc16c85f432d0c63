"""The optimizer playground's core: the surface is the graph's loss, its gradient the graph's
backward pass, the race the optimizers' own arithmetic; bad graphs and settings are named."""
import json

import numpy as np
import pytest

from gradviz_core.model import fileformat
from gradviz_core.runs import playground
from gradviz_core.model.commands import SetPlayground
from gradviz_core.model.graph import Graph
from gradviz_core.runs.playground import PlaygroundError, Race, Surface


def surface_graph(extra=None, reduce=False) -> Graph:
    """f(a, b) = a·b + exp(a)·b² (a coupled, curved surface); ``reduce`` sums it first."""
    g = Graph()
    g.add_node("Variable", "a", {"value": 0.3})
    g.add_node("Variable", "b", {"value": -0.7})
    for name, kind in (("ab", "Multiply"), ("ea", "Exp"), ("bb", "Square"), ("eb", "Multiply"), ("f", "Add")):
        g.add_node(kind, name)
    for src, dst, port in (("a", "ab", "a"), ("b", "ab", "b"), ("a", "ea", "x"), ("b", "bb", "x"),
                           ("ea", "eb", "a"), ("bb", "eb", "b"), ("ab", "f", "a"), ("eb", "f", "b")):
        g.connect(src, dst, port)
    if reduce:
        g.add_node("Sum", "total")
        g.connect("f", "total", "x")
    g.playground = extra
    return g


def exact(a, b):
    return a * b + np.exp(a) * b * b


def test_the_surface_is_the_graphs_loss_and_its_gradient_agrees_with_centred_differences():
    s = Surface(surface_graph())
    rng = np.random.default_rng(0)
    for p in rng.uniform(-2, 2, size=(8, 2)):
        f, g = s.value_and_grad(p)
        assert f == pytest.approx(exact(*p), rel=1e-12)
        h = 1e-6
        for i in range(2):
            e = np.eye(2)[i] * h
            fd = (s.value(p + e) - s.value(p - e)) / (2 * h)
            assert abs(g[i] - fd) <= 1e-7 + 1e-6 * abs(fd)


@pytest.mark.parametrize("reduce", [False, True])
def test_the_grid_is_f_at_every_point_in_one_pass_or_point_by_point(reduce):
    s = Surface(surface_graph({"x": [-1, 2], "y": [-3, 1]}, reduce=reduce))
    xs, ys, Z = s.grid(17)
    assert s._vector is (not reduce)      # a Sum over the grid is not elementwise: point by point
    assert xs[0] == -1 and xs[-1] == 2 and ys[0] == -3 and ys[-1] == 1
    A, B = np.meshgrid(xs, ys, indexing="ij")
    assert np.allclose(Z, exact(A, B), rtol=1e-12)
    assert s.value(s.start) == pytest.approx(exact(0.3, -0.7))    # the grid put the start back


def test_the_view_defaults_to_the_start_and_the_origin_with_a_margin():
    (x0, x1), (y0, y1) = Surface(surface_graph()).view()
    assert x0 < 0 < 0.3 < x1 and y0 < -0.7 < 0 < y1


def test_each_rule_steps_as_its_formula_says():
    s = Surface(surface_graph({"lr": {"sgd": 0.1, "momentum": 0.05, "adam": 0.2}}))
    r = Race(s, {"lr": 0.01, "momentum": 0.9}, rules=["sgd", "momentum", "nesterov", "adam"])
    p0 = np.array([0.3, -0.7])
    _, g0 = s.value_and_grad(p0)
    r.advance(2)
    assert np.allclose(r.path("sgd")[1], p0 - 0.1 * g0)
    assert r.lr["nesterov"] == 0.01                                  # no lr of its own: training.lr
    v = -0.05 * g0                                                   # momentum: v ← μv − ηg; θ ← θ + v
    p1 = p0 + v
    assert np.allclose(r.path("momentum")[1], p1)
    _, g1 = s.value_and_grad(p1)
    assert np.allclose(r.path("momentum")[2], p1 + 0.9 * v - 0.05 * g1)
    assert np.allclose(r.path("adam")[1], p0 - 0.2 * np.sign(g0), atol=1e-6)  # Adam's first step: η·sign(g)
    assert r.losses["sgd"][1] == pytest.approx(exact(*r.path("sgd")[1]))
    assert r.summary()["sgd"]["steps"] == 2


def test_a_rule_that_blows_up_stops_and_says_when():
    s = Surface(surface_graph({"lr": {"sgd": 50.0}}))
    r = Race(s, {}, rules=["sgd", "adam"])
    r.advance(40)
    assert r.stopped["sgd"].startswith("diverg")
    assert "adam" not in r.stopped and len(r.paths["adam"]) == 41


def test_graphs_that_are_not_a_loss_of_two_numbers_are_refused_with_the_reason(examples_dir):
    with pytest.raises(PlaygroundError, match="reads data"):
        Surface(fileformat.load(examples_dir / "spiral_mlp.json"))
    with pytest.raises(PlaygroundError, match=r"has 0 \(none\)"):
        Surface(fileformat.load(examples_dir / "circuit_xyz.json"))
    g = surface_graph()
    g.add_node("Variable", "c", {"value": 2.0})
    g.add_node("Add", "g2")
    g.connect("f", "g2", "a")
    g.connect("c", "g2", "b")
    with pytest.raises(PlaygroundError, match=r"exactly two .* has 3 \(a, b, c\)"):
        Surface(g)
    g = surface_graph()
    g.set_param("a", "value", [1.0, 2.0])
    with pytest.raises(PlaygroundError, match="a: .* single numbers"):
        Surface(g)


@pytest.mark.parametrize("section, says", [
    ({"start": [1]}, "playground.start must be two numbers"),
    ({"x": [2, 1]}, "playground.x: the range must go from low to high"),
    ({"steps": 0}, "playground.steps must be a whole number"),
    ({"lr": {"adamw": 0.1}}, "playground.lr.adamw: not an update rule"),
    ({"lr": {"sgd": -1}}, "playground.lr.sgd must be a number > 0"),
    ({"speed": 2}, "playground.speed is not a setting"),
])
def test_bad_playground_settings_are_named(section, says):
    with pytest.raises(PlaygroundError, match=says):
        playground.check(section)


def test_the_playground_section_saves_loads_and_is_checked_on_load(tmp_path, examples_dir):
    g = fileformat.load(examples_dir / "lesson_saddle.json")
    SetPlayground("lr.adam", 0.07).do(g)
    fileformat.save(g, tmp_path / "s.json")
    back = fileformat.load(tmp_path / "s.json")
    assert back.playground["lr"]["adam"] == 0.07 and back.playground["start"] == (-2.0, 0.001)
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["playground"]["lr"]["sgd"] = "fast"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(fileformat.GraphFileError, match="playground"):
        fileformat.load(tmp_path / "bad.json")


def test_set_playground_is_undoable_and_leaves_a_stepper_fresh(examples_dir):
    from gradviz_core.runs.run import Run
    g = fileformat.load(examples_dir / "lesson_optimizers.json")
    before = dict(g.playground)
    run = Run(g)
    seen = []
    g.events.subscribe("playground_changed", lambda **kw: seen.append(kw["section"]))
    cmd = SetPlayground("start", [1.0, 1.0])
    cmd.do(g)
    assert g.playground["start"] == (1.0, 1.0) and seen
    run.check_fresh()                                  # the race's setup is not the graph's arithmetic
    cmd.undo(g)
    assert g.playground == before
    with pytest.raises(PlaygroundError):
        SetPlayground("lr.sgd", 0).do(g)
    assert g.playground == before
