"""The lessons' claims as measurements: each claim a figure, a comparison and a threshold.

A lesson's note says what the student will see ("with 2 hidden units the training accuracy
stays below 90%"). Here each such sentence is a ``Claim``: the figure a measurement returns
(``two.train_acc``), a comparison and a threshold. ``claims_lessons`` measures each lesson
in a ``Trial``: one seed (seed 0 is the lesson file as shipped; seed s adds s to the graph's
initialization seed, to the training seed, and to the data seed where the lesson declares
one), on the kernel backend and with the compute threads of the process.

``tools/lesson_claims.py`` measures every claim over seeds and backends and reports the
spread; ``tests/test_lessons.py`` asserts every claim on seed 0. ``margin`` says how far, in
standard deviations over seeds and backends, the tested seed sits from each threshold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True)
class Claim:
    """``figure op threshold``, and the sentence of the note it stands for."""
    text: str
    figure: str
    op: str
    threshold: float

    def holds(self, figures: dict[str, float]) -> bool:
        value = figures[self.figure]
        return bool(value is not None and not (isinstance(value, float) and math.isnan(value))
                    and OPS[self.op](value, self.threshold))

    def describe(self, figures: dict[str, float]) -> str:
        return f"{self.text}: {self.figure} = {figures.get(self.figure)!r}, claimed {self.op} {self.threshold:g}"


@dataclass
class Lesson:
    """A lesson file, how to measure it, and what its note claims."""
    number: str
    file: str
    measure: Callable[["Trial"], dict[str, float]]
    claims: list[Claim]
    #: the data setting that seed s moves too ("seed" for the toy sets, "split_seed" for files);
    #: None where the data has no randomness or the measurement draws its own
    data_seed: str | None = None
    #: whether anything in the lesson is random (the gates' circuits and the playground are not)
    random: bool = True


@dataclass
class Trial:
    """One measurement's conditions: the seed, and the compute threads a training run takes
    (None: the trainer measures which count is fastest; results do not depend on it)."""
    seed: int = 0
    threads: int | None = None
    folder: Path = field(default_factory=lambda: _examples())
    data_seed: str | None = None

    def load(self, name: str, *links: str):
        """The lesson file with the links applied (as the note's clicks do), then seeded."""
        from gradviz_core.model import fileformat
        from gradviz_core.teach import lessons
        g = fileformat.load(self.folder / name)
        for url in links:
            _, cmd = lessons.command(g, url)
            if cmd is not None:
                cmd.do(g)
        if self.seed:
            g.seed += self.seed
            g.set_training("seed", int(g.training.get("seed", 0)) + self.seed)
            if self.data_seed and g.data is not None:
                g.set_data({**g.data, self.data_seed: int(g.data.get(self.data_seed, 0)) + self.seed})
        return g

    def trainer(self, name: str, *links: str):
        from gradviz_core.runs.trainer import Trainer
        return Trainer(self.load(name, *links), threads=self.threads)

    def train(self, name: str, *links: str):
        return self.trainer(name, *links).run()


def _examples() -> Path:
    from gradviz_core.model.fileformat import examples_dir
    return examples_dir()


def epochs_to(result, key: str, level: float) -> float:
    """The first epoch whose ``key`` (e.g. train_acc) reaches ``level``; inf if none does."""
    return next((float(h["epoch"]) for h in result.history if h.get(key) is not None and h[key] >= level),
                math.inf)


def flag(condition) -> float:
    """A yes/no figure: 1.0 or 0.0."""
    return 1.0 if condition else 0.0


# ---- statistics over seeds and backends ------------------------------------------------------

@dataclass
class Spread:
    """One claim's figure over every (seed, backend) measured."""
    claim: Claim
    values: list[float]
    #: the figure at seed 0 on each backend (what the tests see)
    tested: list[float]
    holds: bool

    @property
    def sd(self) -> float:
        v = np.array([x for x in self.values if np.isfinite(x)])
        if len(v) < 2 or np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
            return 0.0  # the same figure every time (a mean's last bit aside)
        return float(np.std(v))

    @property
    def margin(self) -> float:
        """How far the tested seed sits from the threshold, in standard deviations over every
        seed and backend (inf when every run gave the same figure, and for a claim of
        equality); −inf when a tested run fails the claim."""
        c = self.claim
        if not self.tested:
            return math.nan
        if not all(OPS[c.op](v, c.threshold) for v in self.tested):
            return -math.inf
        if c.op == "==" or self.sd == 0:
            return math.inf
        return min(abs(v - c.threshold) for v in self.tested) / self.sd


def spreads(lesson: Lesson, runs: list[dict]) -> list[Spread]:
    """``runs``: [{"seed", "backend", "figures"}] of one lesson -> a Spread per claim."""
    out = []
    for c in lesson.claims:
        values = [float(r["figures"][c.figure]) for r in runs]
        tested = [float(r["figures"][c.figure]) for r in runs if r["seed"] == 0]
        out.append(Spread(c, values, tested, all(c.holds(r["figures"]) for r in runs)))
    return out
