"""Pack FER2013 into a small lossless file for a remote GPU machine, and unpack it there.

The Kaggle CSV is 290 MB (90 MB gzipped): too big for a machine reached through a narrow
copy. The pixels as uint8 compressed with xz after a delta filter (neighbouring pixels
are close) take about 56 MB; labels and splits are tiny. ``unpack`` writes the Kaggle
CSV back (``emotion,pixels,Usage``, original row order), which every emojax tool reads::

    python experiments/pack_fer2013.py pack ../shared/data/fer2013.csv.gz .carry/fer2013.npz
    python experiments/pack_fer2013.py unpack .carry/fer2013.npz data/fer2013.csv   # there
"""
from __future__ import annotations

import argparse
import lzma
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax.io import EmojaxError, atomic_path, run  # noqa: E402

_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2, "preset": 9}]
_SIDE = data_lib.IMAGE_SIZE * data_lib.IMAGE_SIZE


def pack(src: Path, dest: Path) -> None:
    df = data_lib._read_csv(src)
    missing = {"emotion", "pixels", "Usage"} - set(df.columns)
    if missing:
        raise EmojaxError(f"{src}: not Kaggle's fer2013.csv (missing {', '.join(sorted(missing))})")
    images, ok, _ = data_lib.parse_pixels(df["pixels"])
    if not ok.all():
        raise EmojaxError(f"{src}: {int((~ok).sum())} rows do not hold 2304 pixels; pack needs every row")
    usage = df["Usage"].to_numpy(str)
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        np.savez(f, pixels_xz=np.frombuffer(lzma.compress(images.tobytes(), lzma.FORMAT_XZ, filters=_FILTERS),
                                            np.uint8),
                 emotion=df["emotion"].to_numpy(str), usage=usage)
    print(f"{len(df):,} rows -> {dest} ({dest.stat().st_size / 2**20:.1f} MiB)")


def unpack(src: Path, dest: Path) -> None:
    try:
        with np.load(src, allow_pickle=False) as z:
            pixels = np.frombuffer(lzma.decompress(z["pixels_xz"].tobytes()), np.uint8).reshape(-1, _SIDE)
            emotion, usage = z["emotion"], z["usage"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as e:
        raise EmojaxError(f"{src} is not a file written by 'pack_fer2013.py pack' ({e.__class__.__name__})") from None
    with atomic_path(dest) as tmp, open(tmp, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for e, p, u in zip(emotion, pixels, usage):
            f.write(f"{e},{' '.join(map(str, p.tolist()))},{u}\n")
    print(f"{len(pixels):,} rows -> {dest}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("pack", "unpack"), help="pack a Kaggle CSV, or unpack a packed file to CSV")
    p.add_argument("src", type=Path, help="input: fer2013.csv[.gz] to pack, or a packed .npz to unpack")
    p.add_argument("dest", type=Path, help="output: the packed .npz, or the CSV to write")
    args = p.parse_args(argv)
    if not args.src.exists():
        raise EmojaxError(f"no such file: {args.src}")
    (pack if args.action == "pack" else unpack)(args.src, args.dest)
    return 0


if __name__ == "__main__":
    run(main)
