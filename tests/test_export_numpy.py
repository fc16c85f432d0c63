"""gradviz export --to numpy: the study script's forward gives every node's value and its
backward every node's and every weight's gradient as gradviz's engine does, on the same
weights and batch; what it has no form for is refused by name; the script runs."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradviz_core.model import fileformat
from gradviz_core.runs.run import Run
from test_cli import run as cli

EXAMPLES = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "examples").glob("*.json"))
#: a test graph with every brick the model zoo brought (issue 28), exported like the examples
EXAMPLES.append(str(Path(__file__).resolve().parent / "data" / "new_bricks.json"))
NO_NUMPY_FORM: set = set()  # every example has a NumPy form
from conftest import HEAVY  # noqa: E402 (real-size nets: exported, but not run here)


def _module(path):
    spec = importlib.util.spec_from_file_location(f"study_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e not in NO_NUMPY_FORM and e not in HEAVY])
def test_the_study_script_computes_gradviz_values_and_gradients(example, examples_dir, tmp_path):
    out = tmp_path / "study.py"
    code, _, err = cli("export", examples_dir / example, "--to", "numpy", "-o", out)
    assert code == 0, err
    mod = _module(out)
    r = Run(fileformat.load(examples_dir / example), np.float64)
    training = not any(b.stochastic for b in r.bricks.values())  # Dropout: compared at test time
    X, y = mod.batch()
    if X is not None:
        X, y = X[:40], y[:40]
        r.feed(X, y, step=1)
    values = r.program.forward(training)
    grads = r.program.backward(values)
    C = {}
    v = mod.forward(dict(mod.P), X, y, training, C)
    d, wgrads = mod.backward(mod.P, v, C)
    assert float(mod.objective(v)) == pytest.approx(r.program.loss(values), rel=1e-10, abs=1e-12)
    for node, ours in values.items():
        assert np.allclose(v[node], ours, rtol=1e-9, atol=1e-12), node
    for node, ours in grads.items():
        if r.bricks[node].feeds is None and node in d:
            assert np.allclose(d[node], ours, rtol=1e-9, atol=1e-12), node
    checked = 0
    for node, b in r.bricks.items():
        for w, ours in b.grads.items():
            if ours is not None:
                assert np.allclose(wgrads[f"{node}/{w}"], ours, rtol=1e-9, atol=1e-12), (node, w)
                checked += 1
    assert checked == sum(1 for b in r.bricks.values() for g in b.grads.values() if g is not None)


def test_a_node_without_a_numpy_form_is_refused_by_name(examples_dir, tmp_path, monkeypatch):
    from gradviz_core.bricks.conv import Conv2D
    from gradviz_core.model.brick import Brick
    from gradviz_core.errors import GradvizError
    from gradviz_core.formats.numpy_script import to_numpy
    monkeypatch.setattr(Conv2D, "numpy_code", Brick.numpy_code)  # as a brick without one would be
    with pytest.raises(GradvizError, match=r"^conv1 \(Conv2D\): no NumPy form .* to PyTorch instead"):
        to_numpy(fileformat.load(examples_dir / "digits_convnet.json"))


def test_the_convnets_study_script_trains_with_the_graphs_rule_and_fits_its_images(examples_dir, tmp_path):
    out = tmp_path / "study.py"
    assert cli("export", examples_dir / "lesson_finetuning.json", "--to", "numpy", "-o", out)[0] == 0
    p = subprocess.run([sys.executable, "-c", "import study; print(study.OPTIMIZER); study.check(); study.train()"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "adam" and float(lines[1].split("error ")[1].split()[0]) < 1e-5
    assert lines[-1].startswith("epoch 80:") and lines[-1].endswith("training accuracy 100.0%")  # as in gradviz


def test_the_study_script_needs_only_numpy_checks_itself_and_trains(examples_dir, tmp_path):
    out = tmp_path / "study.py"
    assert cli("export", examples_dir / "spiral_mlp.json", "--to", "numpy", "-o", out)[0] == 0
    imports = [line for line in out.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from pathlib import Path", "import numpy as np"]
    p = subprocess.run([sys.executable, "-c", "import study; e = study.check(); study.train(epochs=30); print(e)"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert float(lines[-1]) < 1e-5                              # backward agrees with finite differences
    objective = [float(l.split("objective ")[1].split(",")[0]) for l in lines if l.startswith("epoch ")]
    assert len(objective) == 30 and objective[-1] < 0.7 * objective[0]   # and SGD lowers the loss
    assert "training accuracy" in lines[-2]


def test_a_circuits_study_script_prints_the_gradient_of_each_number(examples_dir, tmp_path):
    out = tmp_path / "study.py"
    assert cli("export", examples_dir / "circuit_xyz.json", "--to", "numpy", "-o", out)[0] == 0
    p = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["objective -12", "d objective / d x = -4.0", "d objective / d y = -4.0",
                                     "d objective / d z = 3.0"]
