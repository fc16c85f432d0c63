"""gradviz export --to pytorch: the exported module computes gradviz's forward output, loss and
gradients on the same weights (to 1e-5), and what it cannot export is refused by name."""
import importlib.util
import sys

import numpy as np
import pytest

from gradviz_core import fileformat
from gradviz_core.run import Run
from test_cli import run as cli


def _transposed(brick, w):
    """gradviz's Linear W is (D, K); PyTorch's weight is (K, D)."""
    return brick.type_name == "Linear" and w == "W"


def _module(path):
    spec = importlib.util.spec_from_file_location("exported", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("example", ["spiral_mlp.json", "mlp_softmax.json", "digits_convnet.json",
                                     "lesson_width.json", "lesson_softmax.json"])
def test_the_exported_module_reproduces_gradviz_forward_and_gradients(example, examples_dir, tmp_path):
    torch = pytest.importorskip("torch")
    out = tmp_path / "model.py"
    code, _, err = cli("export", examples_dir / example, "-o", out)
    assert code == 0, err
    mod = _module(out)
    model = mod.load_weights(mod.Model()).double()
    data = mod._unpack(mod.DATA)
    X, y = data["X_train"][:32].astype(np.float64), data["y_train"][:32]

    g = fileformat.load(examples_dir / example)
    r = Run(g, np.float64)
    for key, value in mod._unpack(mod.WEIGHTS).items():  # the same float32 weights in both
        node, name = key.split(".")
        b = r.bricks[node]
        w = {"weight": "W", "bias": "b"}[name]
        b.weights[w][...] = value.T if _transposed(b, w) else value
    r.feed(X, y, step=None)
    values = r.program.forward(True)
    r.program.backward(values)
    loss_node = next(n for n in r.program.order if r.bricks[n].family == "Losses")
    scores_node = dict(r.program.inputs[loss_node])["x"]

    scores = model(torch.from_numpy(X))
    loss = mod.loss_fn(model, scores, torch.from_numpy(y))
    loss.backward()
    assert np.allclose(scores.detach().numpy(), values[scores_node], rtol=1e-5, atol=1e-7)
    assert loss.item() == pytest.approx(r.program.loss(values), rel=1e-5)
    for key, param in model.named_parameters():
        node, name = key.split(".")
        ours = r.bricks[node].grad({"weight": "W", "bias": "b"}[name])
        theirs = param.grad.numpy()
        theirs = theirs.T if _transposed(r.bricks[node], {"weight": "W", "bias": "b"}[name]) else theirs
        assert np.allclose(theirs, ours, rtol=1e-5, atol=1e-8), key


def test_what_cannot_be_exported_is_refused_with_the_node_and_why(examples_dir, tmp_path):
    code, _, err = cli("export", examples_dir / "circuit_xyz.json", "-o", tmp_path / "c.py")
    assert code == 2 and "needs exactly one Input node" in err
    code, _, err = cli("export", examples_dir / "lesson_losses.json", "-o", tmp_path / "l.py")
    assert code == 2 and "one loss of a kind it knows" in err and "L_sq (SquareLoss)" in err
    code, _, err = cli("export", examples_dir / "lesson_batchnorm.json", "-o", tmp_path / "b.py")
    assert code == 2 and "bn7 (BatchNorm): no PyTorch layer" in err
    code, _, err = cli("export", examples_dir / "spiral_mlp.json", "-o", tmp_path / "m.txt")
    assert code == 2 and "must end in .py" in err
    assert not list(tmp_path.iterdir())


def test_the_exported_file_is_self_contained_and_trains(examples_dir, tmp_path):
    pytest.importorskip("torch")
    import subprocess
    out = tmp_path / "model.py"
    assert cli("export", examples_dir / "lesson_width.json", "-o", out)[0] == 0
    text = out.read_text()
    assert "gradviz" not in text.split('"""', 2)[2].split("WEIGHTS")[0]  # imports: torch and numpy only
    p = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "epoch 150" in p.stdout and "test accuracy" in p.stdout
