"""How long a training run lives after ``kill`` (SIGTERM): the process is started on the first
N Training faces, signalled 2 s into its second epoch, and timed to its exit. ``--repo`` runs
another checkout's ``experiments/train_cnn.py`` (e.g. a worktree at an older commit), to
compare before and after a change.

    python benchmarks/bench_stop.py --config fer2013_vgg48_robust_scratch_aa --precision bfloat16
    git worktree add ../before 4cf04a8 && python benchmarks/bench_stop.py --repo ../before ...
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared/data/fer2013.csv.gz"))
    p.add_argument("--config", default="fer2013_vgg48_robust_scratch_aa")
    p.add_argument("--subset", default="6000", help="Training faces")
    p.add_argument("--repo", type=Path, default=REPO, help="the checkout whose train_cnn.py runs")
    p.add_argument("extra", nargs="*", help="more train_cnn.py flags (after --), e.g. --precision bfloat16")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen(
            [sys.executable, "experiments/train_cnn.py", "--config", args.config, "--data", args.data,
             "--subset", args.subset, "--epochs", "3", "--out", out + "/run", "--no-progress", *args.extra],
            cwd=args.repo, env={**os.environ, "PYTHONPATH": str(args.repo.resolve())},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if line.startswith("epoch 1:"):
                print(line.rstrip())
                break
        else:
            sys.exit(f"error: the run ended before its first epoch (exit {proc.wait()})")
        time.sleep(2)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()
        proc.wait()
        print(f"exit {proc.returncode}, {time.monotonic() - sent:.1f} s after SIGTERM")


if __name__ == "__main__":
    main()
