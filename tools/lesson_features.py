"""Write lesson 14's pretrained features: lesson_finetuning.json's net trained on digits 0–4
(every layer, from fresh weights), of which the conv layers' weights are kept (the classifier
is the part the lesson retrains):

    python tools/lesson_features.py      # writes examples/lesson_finetuning_features.npz
"""
from pathlib import Path

import numpy as np

from gradviz_core.model import fileformat
from gradviz_core.runs.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "examples" / "lesson_finetuning.json"
#: the note's "where the features come from" link: the same net on digits 0–4
SOURCE = {"data": {"classes": [0, 1, 2, 3, 4], "n_train": 0},
          "training": {"init_from": "", "freeze": [], "lr": 0.003, "epochs": 30, "batch_size": 32}}


def pretrained(lesson=LESSON):
    """(the conv layers' weights after training on 0–4, the run's result)."""
    g = fileformat.load(lesson)
    g.data = {**g.data, **SOURCE["data"]}
    g.training = {**g.training, **SOURCE["training"]}
    t = Trainer(g)
    result = t.run()
    return {k: v for k, v in t.training_run.weights_copy().items() if k.startswith("conv")}, result


if __name__ == "__main__":
    weights, result = pretrained()
    out = LESSON.with_name("lesson_finetuning_features.npz")
    np.savez(out, **weights)
    print(f"wrote {out} ({', '.join(weights)}); test accuracy on 0–4: {result.test_acc:.3f}")
