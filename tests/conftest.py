"""Shared fixtures: the real FER2013 file beside the checkout, small real subsets of it."""
from __future__ import annotations

import dataclasses
import gzip
import os
import subprocess
import sys
import struct
import tempfile
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FER = SHARED / "fer2013.csv.gz"
FERPLUS = SHARED / "fer2013new.csv"
JAFFE = SHARED / "jaffe"
sys.path.insert(0, str(REPO))  # experiments/ is importable under plain `pytest` too

# The tests start many processes that compile the same small programs: share XLA's
# persistent compilation cache between them (set before anything imports jax).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / "emojax-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Most tests compile a small network's program, then run it for a second or two: at XLA's
# backend optimisation level 1 (its default is 2) the cold suite took 20 minutes, not 29, on
# 2 cores. Training keeps the default: the shipped recipe's step gains nothing from it
# (benchmarks/RESULTS.md).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()


def with_ctrl_c(target: str) -> list[str]:
    """``python`` running ``target`` (a module, or a script ending in ``.py``) as ``__main__``
    with Ctrl-C handled, even when this test run was started in the background, where SIGINT
    is inherited as ignored and Python installs no handler of its own."""
    run = (f"sys.argv[0] = {target!r}; runpy.run_path(sys.argv[0], run_name='__main__')" if target.endswith(".py")
           else f"sys.argv[0] = {target!r}; runpy.run_module({target!r}, run_name='__main__')")
    return [sys.executable, "-c",
            f"import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); {run}"]


def run_cli(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 300):
    """Run ``python ARGS`` like a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def png_bomb(w=30000, h=30000) -> bytes:
    """A real, decodable 1-bit PNG of w x h pixels (900 megapixels: 2.7 GB as RGB) in ~110 KB."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z, row = zlib.compressobj(9), b"\x00" + b"\x00" * ((w + 7) // 8)
    idat = b"".join(z.compress(row * 1000) for _ in range(h // 1000)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def assert_clean_error(proc) -> None:
    """Bad input: exit 2 and exactly one ``error:`` line, no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) >= 1, proc.stderr


@pytest.fixture(scope="session")
def fer_path() -> Path:
    if not FER.exists():
        pytest.skip(f"FER2013 not found at {FER}")
    return FER


@pytest.fixture(scope="session")
def fer(fer_path):
    """The whole real dataset (parsed once, then from the .npz cache)."""
    from emojax import data

    return data.load(fer_path, verbose=False)


@pytest.fixture(scope="session")
def fer_rows(fer_path) -> list[str]:
    """The header and the first 600 Training rows plus 200 PublicTest and 200 PrivateTest
    rows, as raw CSV lines: material for small real files in every format."""
    lines = {"Training": [], "PublicTest": [], "PrivateTest": []}
    want = {"Training": 600, "PublicTest": 200, "PrivateTest": 200}
    with gzip.open(fer_path, "rt") as f:
        header = next(f)
        for line in f:
            usage = line.rstrip().rsplit(",", 1)[1]
            if len(lines[usage]) < want[usage]:
                lines[usage].append(line)
            if all(len(lines[k]) == want[k] for k in want):
                break
    return [header] + lines["Training"] + lines["PublicTest"] + lines["PrivateTest"]


@pytest.fixture(scope="session")
def small_csv(fer_rows, tmp_path_factory) -> Path:
    """A 1,000-row real FER2013 CSV in Kaggle's format."""
    path = tmp_path_factory.mktemp("small") / "fer2013.csv"
    path.write_text("".join(fer_rows))
    return path


@pytest.fixture(scope="session")
def small_fer(fer):
    """2,000 Training, 500 PublicTest and 500 PrivateTest real images."""
    return dataclasses.replace(fer, train=fer.train.subset(slice(0, 2000)),
                               val=fer.val.subset(slice(0, 500)), test=fer.test.subset(slice(0, 500)))


@pytest.fixture(scope="session")
def tiny_cnn(small_fer, tmp_path_factory) -> Path:
    """A small CNN trained for two epochs on real rows: a real saved model for the tests of
    everything that consumes one (prediction, attacks, comparison, live)."""
    from emojax.train import Config, train

    out = tmp_path_factory.mktemp("tiny_cnn")
    train(Config(model="small", model_kwargs={"width": 8}, epochs=2, batch_size=64, augment=False),
          small_fer, out, progress=False)
    return out


def three_jaffe_women() -> list[Path]:
    """Two JAFFE photos of each of three poses (happy, surprise, neutral) by each of three
    women: 18 real photos whose people and expressions the file names give. Skips without JAFFE."""
    if not JAFFE.is_dir():
        pytest.skip(f"JAFFE not found at {JAFFE}")
    from emojax import photoset

    chosen: dict[tuple, list[Path]] = {}
    for ph in photoset.read(JAFFE):
        key = (ph.person, ph.emotion)
        if ph.emotion in ("happy", "surprise", "neutral") and len({k[0] for k in chosen} | {ph.person}) <= 3 \
                and len(chosen.setdefault(key, [])) < 2:
            chosen[key].append(ph.path)
    return [path for paths in chosen.values() for path in paths]
