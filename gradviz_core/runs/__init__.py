"""Runs: what is done with a document, each on its own copy of it.

The executable copy and its batching, seeding and update policy (``run``, ``engine``),
stepping node by node (``stepper``), training (``trainer`` with its control, guard and
diagnostics), the update rules and schedules (``optim``, ``schedules``), reading a run
(``probe``), the numerical gradient check (``gradcheck``) and the optimizer playground's race
(``playground``). It may import the model, the bricks, the kernels, the data and the base
modules; never the teaching aids, the formats or the performance tools.
"""
