"""gradviz train and gradviz bench, as a user runs them."""
import json

import numpy as np

from gradviz_core.model import fileformat

from test_cli import run


def test_train_json_summary_and_save(examples_dir, tmp_path):
    code, out, err = run("train", examples_dir / "spiral_mlp.json", "--epochs", "300", "--json",
                         "--save", tmp_path / "w.npz")
    assert code == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    summary = lines[-1]
    assert set(summary) == {"kind", "epochs", "steps", "train_loss", "train_acc", "val_acc", "test_acc", "seconds"}
    assert summary["epochs"] == 300 and summary["train_acc"] > 0.9 and summary["test_acc"] is None
    epochs = [line for line in lines if line["kind"] == "epoch"]
    assert len(epochs) == 300 and epochs[0]["epoch"] == 1
    assert {line["kind"] for line in lines} <= {"epoch", "diagnostics", "warning", "summary"}
    with np.load(tmp_path / "w.npz") as npz:
        assert set(npz.files) == {"fc1/W", "fc1/b", "fc2/W", "fc2/b"}


def test_train_text_shows_progress(examples_dir):
    code, out, err = run("train", examples_dir / "spiral_mlp.json", "--epochs", "20")
    assert code == 0
    assert "epoch 20/20" in err and "trained 20 epochs" in out


def test_train_divergence_exits_1_with_the_message(examples_dir):
    code, out, err = run("train", examples_dir / "spiral_mlp.json", "--lr", "100", "--json")
    assert code == 1
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "diverged" and "training diverged" in summary["message"]
    assert "gradviz: training diverged at epoch" in err and "Traceback" not in err


def test_train_bad_settings_exit_2(tmp_path, examples_dir):
    d = json.loads((examples_dir / "spiral_mlp.json").read_text())
    d["training"]["optimizer"] = "adamw"
    f = tmp_path / "g.json"
    f.write_text(json.dumps(d))
    code, _, err = run("train", f)
    assert code == 2 and "training.optimizer must be one of sgd, momentum" in err


def test_one_stepped_update_saves_the_weights_of_the_first_training_step(tmp_path):
    from test_runs import mlp
    path = tmp_path / "net.json"
    fileformat.save(mlp(), path)  # with Dropout and BatchNorm
    code, _, err = run("step", path, "--update", "--save", tmp_path / "a.npz")
    assert code == 0, err
    code, out, err = run("train", path, "--steps", "1", "--save", tmp_path / "b.npz")
    assert code == 0, err
    assert "stopped after 1 step:" in out
    code, _, err = run("step", path, "--update", "--float32", "--save", tmp_path / "c.npz")
    assert code == 0, err
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b, np.load(tmp_path / "c.npz") as c:
        assert set(a.files) == set(b.files) == set(c.files) and "bn1/running_mean" in a.files
        for k in a.files:
            np.testing.assert_allclose(a[k], b[k], rtol=2e-5, atol=1e-6, err_msg=k)  # float64 vs float32
            np.testing.assert_array_equal(c[k], b[k], err_msg=k)  # the same precision: bit for bit


def test_train_steps_must_be_positive(examples_dir):
    code, _, err = run("train", examples_dir / "spiral_mlp.json", "--steps", "0")
    assert code == 2 and "--steps must be at least 1" in err
