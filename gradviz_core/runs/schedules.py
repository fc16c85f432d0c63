"""Learning-rate schedules, called once per epoch with that epoch's validation loss."""
from __future__ import annotations

import math

from gradviz_core.model.settings import SCHEDULE_NAMES

SCHEDULES = SCHEDULE_NAMES  # the document declares the names; the rules are here


class Schedule:
    """constant: η = η₀;  step: η = η₀·factorᶠˡᵒᵒʳ⁽ᵉᵖᵒᶜʰ/ᵉᵛᵉʳʸ⁾;  exponential: η = η₀·e^(−k·epoch);
    plateau: halve η when the validation loss has not improved for ``patience`` epochs."""

    def __init__(self, kind: str = "constant", lr: float = 0.1, every: int = 10, factor: float = 0.5,
                 k: float = 0.05, patience: int = 3) -> None:
        self.kind, self.lr0, self.lr = kind, lr, lr
        self.every, self.factor, self.k, self.patience = every, factor, k, patience
        self.best = math.inf
        self.bad_epochs = 0

    def after_epoch(self, epoch: int, val_loss: float | None) -> float:
        """The learning rate for the epoch after ``epoch`` (epochs count from 1)."""
        if self.kind == "step":
            self.lr = self.lr0 * self.factor ** (epoch // self.every)
        elif self.kind == "exponential":
            self.lr = self.lr0 * math.exp(-self.k * epoch)
        elif self.kind == "plateau" and val_loss is not None:
            if val_loss < self.best - 1e-12:
                self.best, self.bad_epochs = val_loss, 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs >= self.patience:
                    self.lr, self.bad_epochs = self.lr / 2, 0
        return self.lr
