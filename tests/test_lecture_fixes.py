"""What the lectures teach, taught as they teach it (issue 29): each fix here failed on the code
before it."""
import re
from pathlib import Path

import pytest

from gradviz_core.model import fileformat
from test_cli import run as cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("weights", ["0.5,10", "1,10"])
def test_a_multi_task_sum_is_not_mistaken_for_a_bad_start(weights, examples_dir):
    """The lecture's loss weights (0.5 and 10) and lesson 5's own link (1 and 10): the weighted
    total is far from ln 3, the classification loss itself is not, so nothing is wrong."""
    code, _, err = cli("train", examples_dir / "lesson_multitask.json", "--epochs", "1",
                       "--set", f"total.weights={weights}")
    assert code == 0, err
    assert "initial loss" not in err, err


def test_a_bad_start_of_one_loss_in_a_sum_is_named_with_its_own_ln_k(examples_dir):
    code, _, err = cli("train", examples_dir / "lesson_multitask.json", "--epochs", "1",
                       "--set", "total.weights=0.5,10", "--set", "scores.init=normal", "--set", "scores.init_scale=50")
    assert code == 0, err
    line = next(l for l in err.splitlines() if "initial loss" in l)
    assert line.startswith("gradviz: warning: classify: the initial loss is ")
    assert "(it enters total × 0.5), far from ln(3) = 1.099" in line


@pytest.mark.parametrize("example, layer, units", [("spiral_mlp.json", "fc1", 100), ("lesson_init.json", "fc1", 50)])
def test_a_zero_initialised_net_is_diagnosed_as_symmetric_not_as_dead_or_too_fast(example, layer, units, examples_dir):
    """All weights 0: every hidden unit computes the same and gets the same gradient (exactly
    0). The cause is the symmetry; LeakyReLU would not help and η is not too high."""
    code, _, err = cli("train", examples_dir / example, "--epochs", "3", "--set", "*.init=zeros")
    assert code == 0, err
    warnings = [l for l in err.splitlines() if "warning" in l]
    assert warnings[0].startswith(f"gradviz: warning: {layer}: its {units} units start with the same weights (all 0)")
    assert "symmetry of the initialization" in warnings[0]
    assert not any("try LeakyReLU" in l or "learning rate is probably too high" in l for l in warnings), warnings


def test_one_zero_layer_under_random_weights_is_not_called_symmetric(examples_dir):
    """fc2's random weights send each of fc1's units its own gradient: the tie breaks."""
    code, _, err = cli("train", examples_dir / "lesson_init.json", "--epochs", "2", "--set", "fc1.init=zeros")
    assert code == 0, err
    assert "start with the same weights" not in err


PENALTY = re.compile(r"(½\s*)?λ\s*·?\s*Σ\s*(W²|\|W\|)")
SLIP = re.compile(r"(slide|lecture)[^.;]{0,30}writes[^.;]{0,10}$")


def _flat(text):
    return re.sub(r"[\s·]", "", text)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_penalty_a_note_writes_is_its_bricks_own(example):
    """A note that writes a regularizer's penalty (λ·ΣW², ½λ·ΣW², λΣ|W|) writes the one its
    graph's brick declares and computes; a slide's other form is quoted as the slide's."""
    graph = fileformat.load(EXAMPLES / example)
    declared = {_flat(m.group(0)) for b in graph.bricks().values() if b.acts_on_weights
                for m in PENALTY.finditer(b.forward_text)}
    for m in PENALTY.finditer(graph.note or ""):
        if SLIP.search(graph.note[max(0, m.start() - 40):m.start()]):
            continue  # "the slide writes λ·ΣW²": a quote, not the lesson's formula
        said = _flat(m.group(0))
        assert said in declared, (example, m.group(0), declared)


def test_the_ramp_says_what_the_slide_meant():
    from gradviz_core.model import registry
    ramp = registry.get_brick_class("Ramp")
    assert "min(1, max(−1, x))" in ramp.forward_text and "slide writes min(−1, max(1, x))" in ramp.doc


def _dropout_graph(**params):
    from gradviz_core.model.graph import Graph
    g = Graph()
    g.data = {"source": "blobs", "n": 64, "classes": 2, "seed": 0}
    with g.batch():
        for name, kind, p in (("x", "Input", {}), ("fc", "Linear", {"units": 40}), ("drop", "Dropout", params)):
            g.add_node(kind, name, p)
        g.connect("x", "fc", "x")
        g.connect("fc", "drop", "x")
    return g


@pytest.mark.parametrize("mode", ["inverted", "test_scaling"])
def test_dropout_names_its_probability_for_what_it_is(mode):
    """The lectures' code keeps a unit with probability p; PyTorch's drops it with p. Keeping
    with 0.8 is dropping with 0.2, mask for mask, in training and at test time."""
    import numpy as np
    from gradviz_core.runs.run import Run
    outs = []
    for params in ({"p": 0.8, "p_means": "keep", "mode": mode}, {"p": 0.2, "mode": mode}):
        r = Run(_dropout_graph(**params), np.float64)
        X, y = r.splits.train.batch(64)
        r.feed(X, y, step=1)
        outs.append((r.program.forward(True)["drop"], r.program.forward(False)["drop"], r.program.forward(False)["fc"]))
    (keep_train, keep_test, fc), (drop_train, drop_test, _) = outs
    assert np.array_equal(keep_train, drop_train) and np.array_equal(keep_test, drop_test)
    assert np.allclose(keep_test, fc * (0.8 if mode == "test_scaling" else 1.0))
    kept = np.mean(keep_train != 0)
    assert 0.75 < kept < 0.85  # 2,560 units: 5 σ of a Bernoulli(0.8) mean is 0.04


def test_the_inspector_and_the_exports_say_which_probability_p_is(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from gradviz_core.formats import export_files
    g = _dropout_graph(p=0.8, p_means="keep", mode="test_scaling")
    b = g.brick("drop")
    assert b.formulas()[0] == "training: m ~ Bernoulli(q), out = x·m;  test: out = x·q;  q = p = 0.8"
    files = export_files(g, "pytorch", tmp_path / "net.py")
    assert "Dropout(keep=0.8, mode='test_scaling')" in files[tmp_path / "net.py"].decode()
    assert "dropout(v[\"fc\"], 1 - 0.8, 'test_scaling'" in export_files(g, "numpy", tmp_path / "s.py")[tmp_path / "s.py"].decode()
    from gradviz.panels.inspector import Inspector
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.show_node(g, "drop")
    assert "q = p = 0.8" in inspector.formulas.text()


def test_gradviz_info_writes_each_convolutions_arithmetic_with_alexnets_numbers(examples_dir):
    """The output size, the neurons, and the parameters with and without sharing, for every conv
    layer: conv1 of AlexNet is the lecture's 55, 290,400 neurons and 105,705,600 unshared."""
    import json as _json
    code, out, err = cli("info", examples_dir / "lesson_alexnet.json")
    assert code == 0, err
    block = out.split("\nconv1 (Conv2D):\n")[1].split("\n\n")[0]
    assert "(227 − 11 + 2·0)/4 + 1 = 55" in block
    assert "neurons: K·H′·W′ = 96·55·55 = 290,400" in block
    assert "34,944 shared" in block and "11·11·3 + 1 = 364: 290,400·364 = 105,705,600" in block
    code, out, _ = cli("info", examples_dir / "digits_convnet.json", "--json")
    nodes = {n["name"]: n for n in _json.loads(out)["nodes"]}
    assert len(nodes["conv2"]["arithmetic"]) == 3 and nodes["fc"]["arithmetic"] == []


def test_the_inspector_writes_a_convolutions_arithmetic(qtbot, examples_dir):
    pytest.importorskip("pytestqt")
    from gradviz.panels.inspector import Inspector
    inspector = Inspector()
    qtbot.addWidget(inspector)
    inspector.show_node(fileformat.load(examples_dir / "digits_convnet.json"), "conv1")
    text = inspector.formulas.text()
    assert "(8 − 3 + 2·1)/1 + 1 = 8" in text and "neurons: K·H′·W′ = 8·8·8 = 512" in text
    assert "512·10 = 5,120" in text
