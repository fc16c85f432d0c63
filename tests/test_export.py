"""gradviz export --to pytorch: the exported module computes gradviz's forward output, loss and
gradients on the same weights (to 1e-5), and what it cannot export is refused by name."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from gradviz_core.formats import pytorch as export
from gradviz_core.model import fileformat
from gradviz_core.errors import GradvizError
from gradviz_core.runs.run import Run
from conftest import HEAVY
from test_cli import run as cli


def _module(path):
    spec = importlib.util.spec_from_file_location("exported", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXAMPLES = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "examples").glob("*.json"))
#: a test graph with every brick the model zoo brought (issue 28), exported like the examples
EXAMPLES.append(str(Path(__file__).resolve().parent / "data" / "new_bricks.json"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_exported_module_reproduces_every_node_and_gradient_of_gradviz(example, examples_dir, tmp_path):
    """Every example exports, and on the same (float32-rounded) weights and batch the module
    computes every node's value, the objective and every weight's gradient as gradviz does."""
    torch = pytest.importorskip("torch")
    out = tmp_path / "model.py"
    code, _, err = cli("export", examples_dir / example, "-o", out)
    assert code == 0, err
    mod = _module(out)
    model = mod.load_weights(mod.Model()).double()

    g = fileformat.load(examples_dir / example)
    r = Run(g, np.float64)
    for b in r.bricks.values():  # the weights the file carries: float32
        for arrays in (b.weights, b.buffers):
            for k in arrays:
                arrays[k] = np.asarray(arrays[k], np.float32).astype(np.float64)
    training = not any(b.stochastic for b in r.bricks.values())  # Dropout: compared at test time
    model.train(training)
    data = mod.load_data() if mod.SAMPLE_SHAPE is not None else {}
    if data:
        n = 2 if Path(example).name in HEAVY else 32  # AlexNet in float64: 2 images are its every path
        X, y = data["X_train"][:n].astype(np.float64), data["y_train"][:n]
        r.feed(X, y, step=1)
        v = model(torch.from_numpy(X), torch.from_numpy(y))
    else:
        v = model()
    values = r.program.forward(training)
    r.program.backward(values)
    objective = model.objective(v)
    if objective.requires_grad:  # a circuit of constants has nothing to differentiate
        objective.backward()
    assert objective.item() == pytest.approx(r.program.loss(values), rel=1e-7, abs=1e-10)
    for node, ours in values.items():
        theirs = v[node].detach().numpy()
        assert theirs.shape == np.shape(ours), node
        assert np.allclose(theirs, ours, rtol=1e-5, atol=1e-8), node
    attr = {a: n for n, a, _, _ in export.plan(g)["modules"]}
    checked = 0
    for key, param in model.named_parameters():
        a, name = key.rsplit(".", 1)
        b = r.bricks[attr[a]]
        w = {t: gv for gv, t in b.torch_names.items() if gv in b.weights}.get(name, name)
        ours = b.grads.get(w)
        theirs = param.grad.numpy() if param.grad is not None else None
        if ours is None:  # no gradient reached it in gradviz: none (or zeros) in PyTorch
            assert theirs is None or not theirs.any(), key
            continue
        theirs = theirs.T if w in b.torch_transposed else theirs
        assert np.allclose(theirs, ours, rtol=1e-5, atol=1e-8), key
        checked += 1
    assert checked == sum(1 for b in r.bricks.values() for w in b.weights if b.grads.get(w) is not None)


def test_every_brick_says_how_it_is_written_in_pytorch():
    """A new brick without an export declaration fails here, not in a user's hands."""
    from gradviz_core.model import registry
    from gradviz_core.model.brick import Brick
    missing = [t for t in registry.brick_types()
               if not (getattr(registry.get_brick_class(t), "acts_on_weights", False)
                       or any(getattr(registry.get_brick_class(t), m) is not getattr(Brick, m)
                              for m in ("torch_op", "torch_expr", "torch_module", "torch_layer")))]
    assert not missing


def test_what_cannot_be_exported_is_refused_with_the_node_and_why(examples_dir, tmp_path, monkeypatch):
    from gradviz_core.bricks.ops import Exp
    monkeypatch.setattr(Exp, "torch_op", None)  # as a brick without a PyTorch counterpart would be
    with pytest.raises(GradvizError, match=r"^e \(Exp\): no PyTorch counterpart"):
        export.to_pytorch(fileformat.load(examples_dir / "sigmoid_neuron.json"))
    code, _, err = cli("export", examples_dir / "spiral_mlp.json", "-o", tmp_path / "m.txt")
    assert code == 2 and "must end in .py" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("example, says", [("sigmoid_neuron.json", "step 3: objective"),
                                           ("circuit_xyz.json", "d objective / d z = 3.0"),
                                           ("lesson_batchnorm.json", "training accuracy"),
                                           ("lesson_multitask.json", "epoch 2: loss")])
def test_exported_circuits_batchnorm_and_multitask_graphs_train(example, says, examples_dir, tmp_path):
    pytest.importorskip("torch")
    import subprocess
    assert cli("export", examples_dir / example, "-o", tmp_path / "model.py")[0] == 0
    p = subprocess.run([sys.executable, "-c", "import model; model.train(epochs=3)"], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert says in p.stdout, p.stdout


def test_the_exported_file_is_self_contained_and_trains(examples_dir, tmp_path):
    pytest.importorskip("torch")
    import subprocess
    out = tmp_path / "model.py"
    assert cli("export", examples_dir / "lesson_width.json", "-o", out)[0] == 0
    imports = {line.split()[1] for line in out.read_text().splitlines() if line.startswith(("import ", "from "))}
    assert all(m.split(".")[0] in ("argparse", "math", "os", "sys", "pathlib", "numpy", "torch") for m in imports), imports
    p = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "epoch 150" in p.stdout and "test accuracy" in p.stdout
