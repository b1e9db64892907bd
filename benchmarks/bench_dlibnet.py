"""CPU ms per face of dlib's face-recognition ResNet: dlib's own C++ vs the Flax port.

    python benchmarks/bench_dlibnet.py            # batch 1 and 32, median of --reps runs

Both run on the same 150x150 chip (the face in shared/data/faces/angry_man.jpg when it is
there, else a random chip: the cost does not depend on the pixels). dlib gets a list of
chips (its batched ``compute_face_descriptor``); Flax gets one jitted call on an
``(N, 150, 150, 3)`` array, compile time excluded. Also prints the largest |difference|.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = ap.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    sys.path.insert(0, str(ROOT))
    import dlib
    import jax
    import numpy as np

    from emojax import dlibnet

    path = dlibnet.face_recognition_model_path()
    photo = ROOT.parent / "shared" / "data" / "faces" / "angry_man.jpg"
    chip = None
    if photo.is_file():
        from PIL import Image

        img = np.asarray(Image.open(photo).convert("RGB"))
        rects = dlib.get_frontal_face_detector()(img, 0)
        if rects:
            sp = dlib.shape_predictor(str(path.parent / "shape_predictor_5_face_landmarks.dat"))
            chip = dlibnet.face_chip(img, sp(img, rects[0]))
    if chip is None:
        chip = np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)

    rec = dlib.face_recognition_model_v1(str(path))
    module, variables = dlibnet.load_face_recognition_resnet(path)
    apply = jax.jit(module.apply)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
          f"median of {args.reps}; ms per face")
    print(f"{'batch':>5} {'dlib':>9} {'flax':>9} {'flax/dlib':>9} {'max|diff|':>9}")
    for n in args.batches:
        chips = np.repeat(chip[None], n, axis=0)
        t0 = time.perf_counter()
        ours = np.asarray(jax.block_until_ready(apply(variables, chips)))
        compile_s = time.perf_counter() - t0
        ref = np.array(rec.compute_face_descriptor(list(chips)) if n > 1 else [rec.compute_face_descriptor(chip)])
        times = {"dlib": [], "flax": []}
        for _ in range(args.reps):
            t0 = time.perf_counter()
            if n > 1:
                rec.compute_face_descriptor(list(chips))
            else:
                rec.compute_face_descriptor(chip)
            times["dlib"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            jax.block_until_ready(apply(variables, chips))
            times["flax"].append(time.perf_counter() - t0)
        d, f = (1000 * statistics.median(times[k]) / n for k in ("dlib", "flax"))
        print(f"{n:>5} {d:>9.1f} {f:>9.1f} {f / d:>9.2f} {np.abs(ours - ref).max():>9.1e}"
              f"   (first flax call incl. compile {compile_s:.1f} s)")


if __name__ == "__main__":
    main()
