"""dlib's HOG and CNN (MMOD) face detectors on the shared photos: faces found and time.

    python benchmarks/bench_detectors.py [--photos ../shared/data/faces] [--upsample 1]

HOG is the default everywhere (fast); ``--detector cnn`` is for photos where HOG misses turned
or partly hidden faces. Prints a Markdown table (append it to benchmarks/RESULTS_face.md).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from emojax import face
from emojax.io import non_negative_int, run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", default="../shared/data/faces", help="folder of photos")
    p.add_argument("--upsample", type=non_negative_int, nargs="+", default=[0, 1],
                   help="detector upsampling levels to try (default: 0 1)")
    args = p.parse_args(argv)
    photos = sorted(f for f in Path(args.photos).iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| photo | size | detector | upsample | faces | seconds |\n|---|---|---|---:|---:|---:|")
    for f in photos:
        image = face.load_image(f)
        for detector in face.DETECTORS:
            for up in args.upsample:
                face.detect_faces(image[:64, :64], upsample=0, detector=detector)  # load the model
                t0 = time.perf_counter()
                n = len(face.detect_faces(image, upsample=up, detector=detector))
                print(f"| {f.name} | {image.shape[1]}x{image.shape[0]} | {detector} | {up} | {n} | "
                      f"{time.perf_counter() - t0:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    run(main)
