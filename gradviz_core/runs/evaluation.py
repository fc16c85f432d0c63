"""What a training run measures of its own program, in test mode: the data and
regularization parts of the loss, accuracy and the confusion matrix on a data set, the
scores of raw samples (and of a grid, for decision boundaries), the first loss against what
small random weights give (ln K for a softmax), and each epoch's record."""
from __future__ import annotations

import numpy as np

from gradviz_core.runs.metrics import confusion
from gradviz_core.runs.probe import find_head, grid_points, predict_scores, truth_of

EVAL_BATCH = 1024


class Evaluator:
    def __init__(self, run) -> None:
        self.run, self.program, self.splits, self.dtype = run, run.program, run.splits, run.dtype
        #: (the loss node that reads the scores, the scores' node), or None
        self.head = find_head(run.program)

    def losses(self, values: dict) -> tuple[float, float]:
        """(data loss, regularization loss) of a forward pass's values."""
        data = reg = 0.0
        for name in self.program.objective:
            if name in self.run.regs:
                reg += float(values[name])
            else:
                data += float(values[name])
        return data, reg

    def evaluate(self, ds) -> dict:
        """Data loss, accuracy and confusion matrix on a dataset, in test mode."""
        if ds is None or len(ds) == 0:
            return {}
        loss_sum, preds = 0.0, []
        for start in range(0, len(ds), EVAL_BATCH):
            X, y = ds.X[start:start + EVAL_BATCH], ds.y[start:start + EVAL_BATCH]
            self.run.feed(X.astype(self.dtype), y)
            values = self.program.forward(False)
            loss_sum += self.losses(values)[0] * len(X)
            if self.head:
                p = self.program.bricks[self.head[0]].predict_classes(values[self.head[1]])
                if p is not None:
                    preds.append(p)
        out = {"loss": loss_sum / len(ds)}
        truth = truth_of(self.program, self.head, ds)
        if preds and ds.classes and truth is not None:
            pred = np.concatenate(preds)
            out["acc"] = float(np.mean(pred == truth))
            out["confusion"] = confusion(truth, pred, max(ds.classes, int(pred.max()) + 1)).tolist()
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The scores (the input of the loss) for raw samples X, in test mode."""
        return predict_scores(self.program, self.splits, self.dtype, self.head, X)

    def grid(self, bounds: tuple[float, float, float, float], res: int = 256) -> np.ndarray:
        """Scores on a res×res grid over (xmin, xmax, ymin, ymax), for decision boundaries.
        -> (res, res, K) with rows along y."""
        return self.predict(grid_points(bounds, res)).reshape(res, res, -1)

    def initial_loss_check(self) -> dict | None:
        """The lectures' first sanity check: the data loss before training vs its expected value."""
        if not self.head:
            return None
        want = self.program.bricks[self.head[0]].initial_loss(self.splits.train.classes)
        if want is None:
            return None
        s = self.run.settings
        X, y = self.splits.train.batch(max(s.batch_size, 256), s.seed)
        self.run.feed(X.astype(self.dtype), y)
        got = self.losses(self.program.forward(False))[0]
        return {"loss": got, "expected": want[0], "formula": want[1],
                "ok": abs(got - want[0]) <= 0.25 * want[0] + 0.05}

    def epoch_record(self, epoch: int, steps: int, data_loss: float, reg_loss: float, train) -> dict:
        rec = {"kind": "epoch", "epoch": epoch, "steps": steps, "train_loss": data_loss, "reg_loss": reg_loss,
               "lr": self.run.optimizer.lr}
        sample = train if len(train) <= 4096 else train.subset(np.arange(4096))
        rec["train_acc"] = self.evaluate(sample).get("acc")
        val = self.evaluate(self.splits.val)
        rec["val_loss"], rec["val_acc"] = val.get("loss"), val.get("acc")
        return rec
