"""gradviz train and gradviz bench, as a user runs them."""
import json

import numpy as np

from test_cli import run


def test_train_json_summary_and_save(examples_dir, tmp_path):
    code, out, err = run("train", examples_dir / "spiral_mlp.json", "--epochs", "300", "--json",
                         "--save", tmp_path / "w.npz")
    assert code == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    summary = lines[-1]
    assert set(summary) == {"epochs", "steps", "train_loss", "train_acc", "val_acc", "test_acc", "seconds"}
    assert summary["epochs"] == 300 and summary["train_acc"] > 0.9 and summary["test_acc"] is None
    assert len(lines) == 301 and lines[0]["epoch"] == 1
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
