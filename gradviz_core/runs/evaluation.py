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
        """The lectures' first sanity check: each classification loss before training against what
        small random weights give (ln K for a softmax over K classes, ln 2 for a binary loss),
        each loss on its own: in a multi-task sum, a loss's value, not the weighted total, is
        compared with its own ln K. -> the first loss's check, with every loss's in "checks"."""
        if not self.head:
            return None
        s = self.run.settings
        X, y = self.splits.train.batch(max(s.batch_size, 256), s.seed)
        self.run.feed(X.astype(self.dtype), y)
        values = self.program.forward(False)
        checks = []
        for name in self.program.order:
            b = self.program.bricks[name]
            if b.family != "Losses" or name in self.run.regs:
                continue
            want = b.initial_loss(self._classes(name))
            if want is None:
                continue
            got = float(values[name])
            weight, into = self._weight(name)
            checks.append({"node": name, "loss": got, "expected": want[0], "formula": want[1], "weight": weight,
                           "into": into, "ok": abs(got - want[0]) <= 0.25 * want[0] + 0.05})
        if not checks:
            return None
        return {**checks[0], "ok": all(c["ok"] for c in checks), "checks": checks}

    def _classes(self, loss: str) -> int | None:
        """K for this loss: the width of the scores it reads (a label table's column may have fewer
        classes than the data), else the data's class count."""
        b = self.program.bricks[loss]
        classes = self.splits.train.classes
        src = dict(self.program.inputs[loss]).get(b.scores_port) if b.scores_port else None
        shape = self.run.graph.shapes.get(src) if src else None
        if classes and shape and len(shape) == 2 and shape[1] and shape[1] > 1:
            return int(shape[1])
        return classes

    def _weight(self, node: str) -> tuple[float | None, str | None]:
        """The factor with which a loss enters the objective (through WeightedSums), and the sum."""
        weight, into = 1.0, None
        while node not in self.program.objective:
            users = [(n, p) for n in self.program.order for p, src in self.program.inputs[n] if src == node]
            if len(users) != 1 or self.program.bricks[users[0][0]].type_name not in ("WeightedSum", "Add", "AddN"):
                return None, into
            user, port = users[0]
            b = self.program.bricks[user]
            if b.type_name == "WeightedSum":
                weight *= float(b.config["weights"][b.input_ports().index(port)])
            node, into = user, user
        return weight, into

    def epoch_record(self, epoch: int, steps: int, data_loss: float, reg_loss: float, train) -> dict:
        rec = {"kind": "epoch", "epoch": epoch, "steps": steps, "train_loss": data_loss, "reg_loss": reg_loss,
               "lr": self.run.optimizer.lr}
        sample = train if len(train) <= 4096 else train.subset(np.arange(4096))
        rec["train_acc"] = self.evaluate(sample).get("acc")
        val = self.evaluate(self.splits.val)
        rec["val_loss"], rec["val_acc"] = val.get("loss"), val.get("acc")
        return rec
