"""Time HOG feature extraction for the whole of FER2013 (35,887 crops of 48x48).

Compares the three ways to get the baseline's HOG (6 px cells, 2x2-cell blocks, 9 bins):
skimage's ``hog`` called per image, OpenCV's ``cv2.HOGDescriptor`` (if this OpenCV has it:
OpenCV 5 moved it to opencv_contrib) and the batch numpy version in ``emojax.baseline``,
plus the baseline's full feature set (HOG at 6 and 12 px + 24x24 pixels). The batch
version works on 512 crops at a time: small enough to stay in cache, several times faster
than one pass over all crops.

    python benchmarks/bench_hog.py [--data PATH] [--jobs 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

try:
    import emojax  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from emojax import data
from emojax.baseline import HogFeatures


def skimage_hog(images: np.ndarray) -> np.ndarray:
    from skimage.feature import hog as sk_hog

    return np.stack([sk_hog(x, 9, (6, 6), (2, 2), block_norm="L2-Hys") for x in images])


def opencv_hog(images: np.ndarray) -> np.ndarray:
    import cv2

    d = cv2.HOGDescriptor((48, 48), (12, 12), (6, 6), (6, 6), 9)
    return np.stack([d.compute(x).ravel() for x in images])


def timed(name: str, fn, images: np.ndarray, jobs: int) -> None:
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    if jobs > 1:
        chunks = np.array_split(images, 8 * jobs)
        f = np.concatenate(Parallel(n_jobs=jobs)(delayed(fn)(c) for c in chunks))
    else:
        f = fn(images)
    dt = time.perf_counter() - t0
    print(f"{name:50s} {dt:7.1f} s  {1e6 * dt / len(images):7.1f} us/crop  {f.shape[1]:5d} features")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="dataset path (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--jobs", type=int, default=os.cpu_count(),
                   help="processes for the per-image extractors (default: all cores)")
    args = p.parse_args()
    ds = data.load(args.data, verbose=False)
    images = np.concatenate([ds.train.images, ds.val.images, ds.test.images])
    print(f"{len(images):,} crops, {os.cpu_count()} cores, per-image extractors in {args.jobs} process(es)")
    timed("skimage.feature.hog, per image", skimage_hog, images, args.jobs)
    import cv2

    if hasattr(cv2, "HOGDescriptor"):
        timed("cv2.HOGDescriptor, per image", opencv_hog, images, args.jobs)
    else:
        print(f"{'cv2.HOGDescriptor':50s} not in OpenCV {cv2.__version__} (moved to opencv_contrib)")
    timed("emojax.baseline.hog, batches of 512, 1 process", HogFeatures((6,), pixels=0).transform, images, 1)
    timed("baseline features (HOG 6+12 px, pixels), 1 process", HogFeatures().transform, images, 1)


if __name__ == "__main__":
    main()
