"""What stops a training run: a loss that diverges, and early stopping.

``DivergenceGuard`` watches each step's loss: NaN or infinity, or a loss more than
``diverge_factor`` times its first finite value. It keeps the last weights taken while the
loss was healthy (every 50 steps), restores them when the loss blows up, and says what went
wrong with advice that follows the cause: before any update it is the initialization, the data
or λ; after updates, the learning rate. ``EarlyStopping`` keeps the weights of the best
validation loss and says when it has not improved for ``patience`` epochs.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.runs.engine import first_nonfinite

#: the healthy weights are taken every this many steps
HEALTHY_EVERY = 50


def set_weights(program, saved: dict) -> None:
    """Put saved ``node/weight`` arrays back, in place: the optimizer's state refers to these very
    arrays, and training goes on after a divergence is restored."""
    for key, value in saved.items():
        node, _, w = key.partition("/")
        b = program.bricks[node]
        np.copyto((b.weights if w in b.weights else b.buffers)[w], value)


class DivergenceGuard:
    def __init__(self, run, factor: float) -> None:
        self.run, self.factor = run, factor
        self.first_loss: float | None = None
        #: (weights, steps done before them, their loss)
        self.healthy = (run.weights_copy(), 0, None)

    def note(self, loss: float) -> None:
        if self.first_loss is None and np.isfinite(loss):
            self.first_loss = loss

    def broken(self, loss: float) -> bool:
        """Not finite, or exploded past ``factor`` times the first loss."""
        return not np.isfinite(loss) or (bool(self.factor) and self.first_loss is not None
                                         and abs(loss) > self.factor * max(abs(self.first_loss), 1e-3))

    def all_finite(self) -> bool:
        return all(np.all(np.isfinite(b.weights[w])) for _, b, w in self.run.params())

    def remember(self, steps: int, loss: float) -> None:
        """Weights whose loss is finite and known, every HEALTHY_EVERY steps."""
        if steps % HEALTHY_EVERY == 0 and self.all_finite():
            self.healthy = (self.run.weights_copy(), steps, loss)

    def restart(self) -> None:
        """After a resume from the restored weights: the first loss is measured again."""
        self.first_loss = None

    def restore_and_explain(self, values: dict, epoch: int, data_loss: float, reg_loss: float, steps: int,
                            lr: float) -> str:
        """Restore the last healthy weights and say what went wrong."""
        run, program = self.run, self.run.program
        loss = data_loss + reg_loss
        node = first_nonfinite(run.graph, values)
        layer = {act: layer for layer, act in program.fused.items()}.get(node)
        if layer:  # a fused layer keeps no value of its own: it or its activation
            where = (f"; the first non-finite value appeared at node {layer} ({program.bricks[layer].type_name}) "
                     f"or its activation {node}, which the trainer runs in one pass")
        else:
            where = f"; the first non-finite value appeared at node {node} ({program.bricks[node].type_name})" \
                if node else ""
        saved, saved_step, saved_loss = self.healthy
        set_weights(program, saved)
        if np.isfinite(loss):
            what = f"grew to {loss:.4g}, more than {self.factor:g} × its first value {self.first_loss:.4g}"
        else:
            what = "became NaN" if np.isnan(loss) else "became infinite"
        kept = ("the weights were restored to " + ("the starting weights, before step 1" if saved_step == 0 else
                                                   f"those before step {saved_step + 1}")
                + (f" (loss {saved_loss:.4g})" if saved_loss is not None else ""))
        if steps == 0:
            return f"training stopped at step 1: {self._before_any_update(data_loss, reg_loss, loss)}{where}; {kept}."
        return (f"training diverged at epoch {epoch}, step {steps + 1}: the loss {what}{where}; "
                f"{kept}, which are all finite. Try a smaller learning rate than {lr:g}.")

    def _before_any_update(self, data_loss: float, reg_loss: float, loss: float) -> str:
        data_ok = np.isfinite(data_loss) and abs(data_loss) < 1e3
        if data_ok and (not np.isfinite(reg_loss) or abs(reg_loss) > 1e3 * max(abs(data_loss), 1.0)):
            regs = ", ".join(n for n in self.run.regs if n in self.run.program.objective)
            return (f"the regularization term ({regs}) is {reg_loss:.4g} before any update: its "
                    "strength λ is far too large")
        return ("the loss is {:.4g} at step 1, before any update, so the learning rate is not the "
                "cause: look at the initialization (init, init_scale, bias_init) and at the data "
                "(preprocessing, the scale of the inputs)").format(loss)


class EarlyStopping:
    """The weights of the best validation loss; ``stop`` once it has not improved for
    ``patience`` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best = (np.inf, None, 0)  # validation loss, weights, epoch

    def stop(self, epoch: int, val_loss: float, weights) -> bool:
        """``weights``: a function that copies the current weights (called only on a new best)."""
        if val_loss < self.best[0] - 1e-12:
            self.best = (val_loss, weights(), epoch)
            return False
        return epoch - self.best[2] >= self.patience
