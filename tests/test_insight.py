"""What the dashboard shows, computed in the core: saliency is a gradient, so it is checked
against centred finite differences in float64; the other views against plain NumPy."""
import numpy as np

from gradviz_core.model import fileformat
from gradviz_core.teach import insight
from gradviz_core.runs.trainer import Trainer


def _trained(examples_dir, name, steps, dtype=np.float64):
    g = fileformat.load(examples_dir / name)
    t = Trainer(g, dtype=dtype, max_steps=steps)
    t.run()
    return t, t.probe().load(t.snapshot())


def test_saliency_is_the_input_gradient_of_the_class_score(examples_dir):
    t, probe = _trained(examples_dir, "digits_convnet.json", 20)
    x = t.splits.test.X[3].astype(np.float64)
    grad, cls, scores = probe.input_gradient(x, cls=7)
    assert cls == 7 and grad.shape == x.shape and scores.shape == (10,)
    xp = x  # a split's sample: preprocessed, as the graph sees it
    rng = np.random.default_rng(0)
    h = 1e-5
    for flat in rng.choice(xp.size, 12, replace=False):
        idx = np.unravel_index(flat, xp.shape)
        up, down = xp.copy(), xp.copy()
        up[idx] += h
        down[idx] -= h
        s_up = _scores_of(probe, up)[7]
        s_down = _scores_of(probe, down)[7]
        numeric = (s_up - s_down) / (2 * h)
        assert abs(numeric - grad[idx]) <= 1e-6 + 1e-5 * abs(numeric)
    sal = insight.saliency_image(grad)
    assert sal.shape == x.shape[1:] and np.all(sal >= 0) and sal.max() > 0


def _scores_of(probe, xp):
    prog, scores = probe.program, probe.head[1]
    prog.feed(xp[None], None, probe.dtype)
    return np.asarray(prog.forward(False, nodes=prog.upto(scores))[scores])[0]


def test_predicted_class_by_default_and_predictions_give_the_confusion(examples_dir):
    t, probe = _trained(examples_dir, "digits_convnet.json", 30, np.float32)
    x = t.splits.test.X[0]
    _, cls, scores = probe.input_gradient(x)
    assert cls == int(np.argmax(scores))
    truth, pred = insight.predictions(probe, t.splits.test)
    assert len(truth) == len(pred) == len(t.splits.test)
    assert np.array_equal(truth, t.splits.test.y)
    ev = t.evaluate(t.splits.test)
    assert abs(ev["acc"] - np.mean(truth == pred)) < 1e-9


def test_filters_feature_maps_and_hidden_units(examples_dir):
    t, probe = _trained(examples_dir, "digits_convnet.json", 2, np.float32)
    node, imgs = insight.first_filters(probe)
    W = t.program.bricks["conv1"].weights["W"]
    assert node == "conv1" and imgs.shape == (8, 3, 3)
    assert np.allclose(imgs, W.mean(axis=1))
    maps = insight.feature_maps(probe, t.splits.test.X[0])
    assert list(maps) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    assert maps["conv1"].shape == (8, 8, 8) and maps["pool2"].shape == (16, 2, 2)
    assert np.all(maps["relu1"] >= 0)

    t, probe = _trained(examples_dir, "spiral_mlp.json", 5, np.float32)
    assert insight.hidden_layers(probe) == ["relu1"]
    hm = insight.hidden_maps(probe, (-1, 1, -1, 1), res=16, limit=10)
    assert hm["relu1"].shape == (10, 16, 16)
    # unit 4 at grid point (row 2, column 5) is relu(x·W[:, 4] + b[4]) at that point
    W, b = (t.program.bricks["fc1"].weights[k] for k in ("W", "b"))
    xs = np.linspace(-1, 1, 16)
    want = max(0.0, xs[5] * W[0, 4] + xs[2] * W[1, 4] + b[4])
    assert abs(hm["relu1"][4, 2, 5] - want) < 1e-5


def test_mosaic_lays_images_out_in_rows_with_gutters():
    imgs = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    m = insight.mosaic(imgs, cols=3, pad=1)
    assert m.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert np.isnan(m[2]).all() and np.isnan(m[:, 3]).all()
    assert m[0, 0] == 0.0 and m[1, 2] == 1.0  # each image scaled to [0, 1]
    assert np.isnan(m[3:, 8:]).all()  # the sixth place is empty


def test_diagnostics_are_kept_with_gradient_histograms(examples_dir):
    g = fileformat.load(examples_dir / "spiral_mlp.json")
    g.training["epochs"] = 300
    t = Trainer(g)
    t.run()
    d = t.diagnostics
    assert 5 <= len(d) <= 110 and [r["step"] for r in d] == sorted(r["step"] for r in d)
    st = d[-1]["activations"]["relu1"]
    assert sum(st["grad_hist"]) == 300 * 100 and len(st["grad_edges"]) == 21 and "dead" in st
