"""Run one training step of the digits ConvNet and say so (for ``gradviz bench``'s start-up
measurement: the parent times this process from its start to the "ready" line)."""
import numpy as np

from gradviz_core.perf.bench import build
from gradviz_core.runs.trainer import Trainer

if __name__ == "__main__":
    tr = Trainer(build("digits", 32))
    tr.step(tr.splits.train.X[:32].astype(np.float32), tr.splits.train.y[:32])
    print("ready", flush=True)
