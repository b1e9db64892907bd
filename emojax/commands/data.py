"""``emojax data`` (``python -m emojax.data``): fetch a dataset archive, or parse one and
print its splits and class counts.
"""
from __future__ import annotations

import argparse

import numpy as np

from emojax import data
from emojax.data import KAGGLE_URL, download, load
from emojax.io import EmojaxError, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emojax.data", description=data.__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="fetch, unpack and verify a dataset archive")
    d.add_argument("url", nargs="?", help="URL of a zip/tar/csv(.gz) holding fer2013.csv or "
                   "the image-folder layout (FER2013 itself is behind a Kaggle login)")
    d.add_argument("--to", default="data", help="folder to unpack into (default: data/)")
    i = sub.add_parser("info", help="parse a dataset and print its splits and skipped rows")
    i.add_argument("--data", help="dataset path (default: $EMOJAX_DATA, then data/)")
    i.add_argument("--labels", choices=("fer2013", "ferplus"), default="fer2013",
                   help="label set: FER2013's 7 classes or FER+'s 8 (needs fer2013new.csv)")
    args = p.parse_args(argv)
    if args.cmd == "download":
        if not args.url:
            raise EmojaxError(f"FER2013 needs a Kaggle login: download fer2013.csv from {KAGGLE_URL} "
                              "into data/, or give a URL of an archive you may use")
        path = download(args.url, args.to)
        print(f"dataset ready: {path}")
    else:
        ds = load(args.data, labels=args.labels, verbose=False)
        print(ds.summary())
        for name in ("train", "val", "test"):
            s = getattr(ds, name)
            counts = np.bincount(s.labels[s.labels >= 0], minlength=len(ds.classes))
            print(f"  {name:5s}: " + " ".join(f"{c}={n}" for c, n in zip(ds.classes, counts)))
    return 0


def cli() -> None:
    run(main)

