"""The package as a user gets it: a wheel built from the repository, installed (not
editable) into a fresh virtual environment, run from a folder outside the checkout; and the
face pipeline with a setuptools that no longer ships pkg_resources."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO, SHARED

PHOTO = SHARED / "faces" / "angry_man.jpg"


def _sh(*cmd, cwd=None, timeout=600, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (env or {}))
    return proc


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv that sees the installed dependencies (jax, dlib, ...) but not the
    repository, with the wheel of this checkout installed into it."""
    tmp = tmp_path_factory.mktemp("pkg")
    # Build from a copy of the sources: a checkout's own build/ may hold stale files that
    # setuptools would pack too.
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "runs", "data", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    build = _sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", src)
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here (no build backend reachable): {build.stderr[-300:]}")
    wheel = next((tmp / "dist").glob("emojax-*.whl"))
    assert wheel.stat().st_size < 25e6, "the wheel must stay under 25 MB"
    names = zipfile.ZipFile(wheel).namelist()
    assert "emojax/shipped/model/model.json" in names and "emojax/shipped/svm/svm.joblib" in names
    env = tmp / "venv"
    assert _sh(sys.executable, "-m", "venv", "--system-site-packages", env).returncode == 0
    inst = _sh(env / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", wheel)
    assert inst.returncode == 0, inst.stderr
    return env


@pytest.mark.skipif(not PHOTO.exists(), reason=f"test photo not found: {PHOTO}")
def test_installed_wheel_predicts_from_any_folder(venv, tmp_path):
    where = _sh(venv / "bin" / "python", "-c", "import emojax; print(emojax.__file__)", cwd=tmp_path)
    assert str(venv) in where.stdout, f"emojax imported from {where.stdout}, not from the wheel"
    for cmd in ([venv / "bin" / "emojax", "predict", PHOTO], [venv / "bin" / "python", "-m", "emojax", "predict", PHOTO],
                [venv / "bin" / "emojax-predict", PHOTO], [venv / "bin" / "python", "-m", "emojax.predict", PHOTO]):
        proc = _sh(*cmd, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1 and "face 0" in lines[0], proc.stdout
        assert lines[0].split("\t")[3] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    helps = _sh(venv / "bin" / "emojax", "--help", cwd=tmp_path)
    assert helps.returncode == 0 and "predict" in helps.stdout and "serve" in helps.stdout
    # the research jobs need the checkout: one clear line, not a traceback
    train = _sh(venv / "bin" / "emojax", "train", cwd=tmp_path)
    assert train.returncode == 2 and "checkout" in train.stderr and "Traceback" not in train.stderr


@pytest.mark.skipif(not PHOTO.exists(), reason=f"test photo not found: {PHOTO}")
def test_face_pipeline_without_pkg_resources(tmp_path):
    """setuptools 81+ ships no pkg_resources: with it unimportable, faces are still found
    and classified (the dlib model files are located without face_recognition_models' __init__)."""
    code = ("import sys; sys.modules['pkg_resources'] = None\n"  # import pkg_resources -> ImportError
            "from emojax.pipeline import Predictor\n"
            "from emojax import face\n"
            "print(len(Predictor().predict(face.load_image(sys.argv[1]))))")
    proc = _sh(sys.executable, "-c", code, PHOTO, cwd=tmp_path, env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


def test_front_door_lists_and_explains_every_subcommand(capsys):
    from emojax import cli

    assert cli.main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert f"  {name} " in listing
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0, name
        text = capsys.readouterr().out
        assert text.startswith("usage:") and "--help" in text, name
        # every flag is explained: help text after it on its line, or on the lines below it
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("  -"):
                inline = len(re.split(r"\s{2,}", line.strip(), maxsplit=1)) == 2
                below = i + 1 < len(lines) and lines[i + 1].startswith(" " * 8) \
                    and not lines[i + 1].strip().startswith("-")
                assert inline or below, f"{name}: {line.strip()} has no help"


def test_a_reader_that_leaves_early_gets_no_traceback():
    """``emojax --help | head -1``: the reader closes the pipe; the command stops quietly with
    status 141, as ``cat`` would, instead of a BrokenPipeError traceback."""
    read, write = os.pipe()
    os.close(read)  # a reader already gone: the first write fails
    try:
        proc = subprocess.run([sys.executable, "-m", "emojax", "--help"], cwd=REPO, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr
