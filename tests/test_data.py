"""Data sources and the Target encodings the losses read."""
import numpy as np
import pytest

from gradviz_core import Graph
from gradviz_core.errors import GradvizError
from gradviz_core.data import DataError, load_dataset
from gradviz_core.runs.run import Run


def target_graph(data, encoding):
    g = Graph()
    g.set_data(data)
    g.add_node("Target", "y", {"encoding": encoding})
    return g


BINARY = {"source": "inline", "X": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "y": [0, 1, 1]}


@pytest.mark.parametrize("encoding,shape,fed", [
    ("index", (None,), [0, 1, 1]),
    ("onehot", (None, 2), [[1, 0], [0, 1], [0, 1]]),
    ("pm1", (None,), [-1, 1, 1]),
])
def test_target_encodings(encoding, shape, fed):
    g = target_graph(BINARY, encoding)
    assert g.shapes["y"] == shape and g.problems == []
    np.testing.assert_array_equal(g.brick("y").encode(np.array([0, 1, 1]), np.float64), fed)
    g.training.update(batch_size=0)
    run = Run(g)
    run.feed(*run.batch(1))  # the first batch: every sample, encoded the same way
    got = np.asarray(run.graph.brick("y").fed, dtype=float).reshape(3, -1).tolist()
    assert sorted(got) == sorted(np.asarray(fed, dtype=float).reshape(3, -1).tolist())


def test_real_targets_and_the_messages_for_mismatched_encodings():
    real = {"source": "inline", "X": [[0.0], [1.0]], "y": [0.5, -1.25]}
    assert target_graph(real, "real").shapes["y"] == (None,)
    [p] = target_graph(real, "index").problems
    assert "encoding 'index' needs class labels, but the data has real values; use encoding 'real'" in p.message
    [p] = target_graph({"source": "spiral", "n": 30, "classes": 3}, "pm1").problems
    assert "encoding 'pm1' needs 2 classes, the data has 3" in p.message


def test_data_problems_land_on_the_data_nodes():
    g = Graph()
    g.add_node("Input", "x")
    [p] = g.problems
    assert p.node == "x" and "no data" in p.message
    g.set_data({"source": "spirals"})
    [p] = g.problems
    assert p.node == "x" and "unknown source 'spirals'" in p.message
    g.set_data({"source": "inline", "X": [[1.0], [2.0]], "y": [0]})
    assert "X has 2 samples but y has 1 labels" in g.problems[0].message
    g.set_data({"source": "spiral", "n": 30, "classes": 3, "colour": 1})
    assert "data: unknown setting 'colour' for source 'spiral'" in g.problems[0].message
    g.set_data({"source": "spiral", "n": 1})
    assert "data.n must be ≥ 2 and ≤ 1e+08, got 1" in g.problems[0].message
    g.add_node("Target", "y")
    assert len({p.message for p in g.problems}) == 1  # one message, on both data nodes
    with pytest.raises(GradvizError) as info:
        g.check()
    assert str(info.value).count("data.n must be") == 1


def test_toy_sets_are_seeded():
    a = load_dataset({"source": "spiral", "n": 60, "classes": 3, "seed": 4})
    b = load_dataset({"source": "spiral", "n": 60, "classes": 3, "seed": 4, "noise": 0.2})
    c = load_dataset({"source": "spiral", "n": 60, "classes": 3, "seed": 5})
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    assert a.X.shape == (60, 2) and sorted(set(a.y)) == [0, 1, 2]
    with pytest.raises(DataError):
        load_dataset({"source": "inline", "X": [[1.0, 2.0], [3.0]], "y": [0, 1]})


@pytest.mark.parametrize("method", ["none", "center", "standardize", "scale", "whiten"])
def test_preprocessing_inverts_back_to_the_data(method):
    from gradviz_core.data.preprocess import Preprocessor
    X = np.random.default_rng(1).normal(size=(50, 3)) @ np.array([[2, 0, 0], [1, 1, 0], [0, 0.5, 3]]) + 4
    p = Preprocessor(method).fit(X)
    assert np.allclose(p.inverse(p.transform(X)), X, atol=1e-6)
