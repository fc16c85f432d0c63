"""Write the PyTorch checkpoints the import-weights tests read (tests/data/spiral_mlp*.pt), with
PyTorch itself: examples/spiral_mlp.json exported, trained 20 epochs by the exported file, and
saved by its --save; then PyTorch's own values of every node on 32 training samples, at test
time (spiral_mlp_outputs.npz), and the same weights as a DistributedDataParallel run's
wrapped checkpoint ({"model": {"module.fc1.weight": …}}). Needs torch.

    python tools/make_torch_checkpoint.py
"""
import subprocess
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def main() -> None:
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "spiral_net.py"
        subprocess.run([sys.executable, "-m", "gradviz", "export", str(ROOT / "examples" / "spiral_mlp.json"),
                        "-o", str(net)], check=True)
        ckpt = DATA / "spiral_mlp.pt"
        subprocess.run([sys.executable, str(net), "--device", "cpu", "--epochs", "20", "--batch-size", "30",
                        "--save", str(ckpt)], check=True)
        sys.path.insert(0, tmp)
        import spiral_net
        model = spiral_net.Model()
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state)
        model.eval()
        data = spiral_net.load_data()
        X, y = data["X_train"][:32], data["y_train"][:32]
        with torch.no_grad():
            v = model(torch.from_numpy(X), torch.from_numpy(y))
        np.savez(DATA / "spiral_mlp_outputs.npz", X=X, y=y,
                 **{f"node/{k}": t.numpy() for k, t in v.items() if t.dtype.is_floating_point})
        torch.save({"model": OrderedDict((f"module.{k}", t) for k, t in state.items()), "epoch": 20},
                   DATA / "spiral_mlp_ddp.pt")
    print(f"wrote {ckpt}, {DATA / 'spiral_mlp_ddp.pt'} and {DATA / 'spiral_mlp_outputs.npz'}")


if __name__ == "__main__":
    main()
