"""Issue 17: bad input at every command of the front door, one table of cases.

THE RULE (emojax.io, README "Errors"): bad input ends with exactly one ``error: ...`` line on
stderr and exit status 2, never a traceback, never a half-written or leftover file. Predict on
several inputs: 0 all processed, 1 some failed (an ``error:`` line each, the rest processed),
2 nothing could be done. argparse's own usage errors (exit 2, a ``usage:`` line and one
``PROG: error: ...`` line) count as the one error line.

Each case runs IN-PROCESS: ``emojax.cli.main`` under ``emojax.io.run`` (exactly what
``python -m emojax`` does), ``SystemExit`` caught, stdout/stderr captured, so JAX starts once.
A few end-to-end cases and the signal tests (SIGTERM / SIGKILL during ``live --save``) run as
real processes (``conftest.run_cli``).

Cases marked xfail(strict=True) are places where the code breaks the rule today; their reason
says how. They are for the owner of that code to fix (the xfail then turns into a failure:
remove the mark).
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from conftest import REPO, SHARED, png_bomb, run_cli

pytestmark = pytest.mark.filterwarnings(  # orbax's parallel reads of a damaged checkpoint report into
    "ignore::pytest.PytestUnraisableExceptionWarning")  # a closed event loop; a real process exits first

FACE_JPG = SHARED / "faces" / "angry_man.jpg"
MODEL = REPO / "results" / "model"
SVM = REPO / "results" / "svm" / "svm.joblib"

# atomic_path's temporaries: .<stem>.<pid>.<8 random chars><suffix>
TEMP_NAME = re.compile(r"^\..+\.\d+\.[a-z0-9_]{8}")


# --------------------------------------------------------------------------- the table


@dataclasses.dataclass
class Case:
    id: str
    cmd: str  # the arguments after `python -m emojax`, with {placeholders} (see Paths)
    code: int = 2  # expected exit status
    errors: int = 1  # expected `error:` lines (argparse's `PROG: error:` counts as one)
    absent: tuple[str, ...] = ()  # globs that must match nothing afterwards
    exists: tuple[str, ...] = ()  # files that must exist afterwards (positive controls)
    contains: str | None = None  # a piece of the error message
    env: dict | None = None  # environment changes (None = unset)
    setup: Callable[[Path], None] | None = None  # prepares the case folder {t}
    xfail: str | None = None  # the rule is broken today: how
    linux: bool = False  # only meaningful on Linux


def case(*args, **kw):
    c = Case(*args, **kw)
    marks = [pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else []
    if c.linux:
        marks.append(pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only"))
    return pytest.param(c, marks=marks, id=c.id)


def _holds_run(t: Path) -> None:
    (t / "run").mkdir()
    (t / "run" / "model.json").write_text('{"keep": true}')


# Predict reports one error line per failed input, and exits 2 when nothing could be processed.
P1 = 1  # predict, one failed input, nothing processed: exactly that input's line

PRED = "predict {face} --model {tiny}"
LIVE = "live --video {clip} --model {tiny} --max-frames 3"
EVAL = "evaluate --model {tiny} --data {csv}"
TRAIN = "train --config demo_small --data {csv} --epochs 1 --subset 64 --batch-size 64 --no-progress --out {t}/run"
SVM_ = "svm --data {csv} --out {t}/svm --pca 20 --landmarks 50 --C 1 --gamma 1e-3 --subset 200"
CMP = "compare --data {csv} --svm {svm} --cnn {tiny} --out-dir {t}/cmp --limit 20 --repeats 1"
ATK = "attack --model {tiny} --data {csv} --limit 5 --out {t}/atk"
PERS = "personalize --images {me} --model {tiny} --out {t}/pers --steps 2"
NO_RUN = ("{t}/run",)
NO_SVM = ("{t}/svm",)
NO_CMP = ("{t}/cmp",)
NO_ATK = ("{t}/atk",)
NO_PERS = ("{t}/pers",)
TRACE = "a traceback instead of one error line"

CASES = [
    # ------------------------------------------------------------------ front door
    case("cli-unknown-subcommand", "predcit {face}", contains="unknown subcommand"),
    case("cli-unknown-subcommand-flag", "--bogus"),
    # ------------------------------------------------------------------ predict: images
    case("predict-image-missing", "predict {t}/missing.jpg --model {tiny}", errors=P1),
    case("predict-image-empty", "predict {in}/empty.jpg --model {tiny}", errors=P1, contains="empty"),
    case("predict-image-corrupt", "predict {in}/garbage.jpg --model {tiny}", errors=P1),
    case("predict-image-truncated-jpeg", "predict {faces}/truncated.jpg --model {tiny}", errors=P1),
    case("predict-image-jpeg-header-only", "predict {faces}/header_only.jpg --model {tiny}", errors=P1),
    case("predict-image-truncated-png", "predict {faces}/truncated.png --model {tiny}", errors=P1),
    case("predict-image-png-bomb", "predict {in}/bomb.png --model {tiny}", errors=P1, contains="too large"),
    case("predict-image-folder-without-images", "predict {in}/noimages --model {tiny}", errors=P1),
    case("predict-image-directory-named-like-a-photo", "predict {in}/photo.jpg --model {tiny}", errors=P1),
    case("predict-image-unsupported-svg", "predict {in}/drawing.svg --model {tiny}", errors=P1),
    case("predict-image-text-file", "predict {in}/notes.txt --model {tiny}", errors=P1),
    case("predict-image-text-named-png", "predict {in}/text.png --model {tiny}", errors=P1),
    # ------------------------------------------------------------------ predict: videos
    case("predict-video-corrupt", "predict {in}/random.avi --model {tiny}", errors=P1),
    case("predict-video-empty", "predict {in}/empty.mp4 --model {tiny}", errors=P1, contains="empty"),
    case("predict-video-missing", "predict {t}/missing.mp4 --model {tiny}", errors=P1),
    case("predict-video-not-a-video", "predict {in}/text.mp4 --model {tiny}", errors=P1),
    case("predict-video-header-only", "predict {faces}/header_only.avi --model {tiny}", errors=P1),
    case("predict-video-corrupt-with-out", "predict {in}/random.avi --model {tiny} --out {t}/o", errors=P1,
         absent=("{t}/o/*",)),
    # ------------------------------------------------------------------ predict: several inputs
    case("predict-several-one-bad", "predict {face} {in}/garbage.jpg --model {tiny}", code=1, errors=1),
    case("predict-several-two-bad", "predict {face} {t}/missing.jpg {in}/random.avi --model {tiny}",
         code=1, errors=2),
    case("predict-several-all-bad", "predict {in}/garbage.jpg {in}/empty.jpg {t}/missing.png --model {tiny}",
         errors=3),
    case("predict-several-annotate-only-the-good", "predict {face} {in}/bomb.png --model {tiny} --annotate {t}/ann",
         code=1, errors=1, exists=("{t}/ann/good_annotated.png",), absent=("{t}/ann/bomb*", "{t}/ann/.*")),
    # ------------------------------------------------------------------ predict: models
    *[case(f"predict-model-{name}", f"predict {{face}} --model {{m}}/{name}", contains=name)
      for name in ("json_truncated", "json_empty_file", "json_empty_object", "json_list", "json_binary",
                   "json_unknown_keyword", "json_unknown_architecture", "json_wrong_width",
                   "json_negative_width", "json_wrong_classes", "json_missing",
                   "weights_truncated", "weights_emptied", "weights_data_removed", "weights_manifest_damaged",
                   "weights_metadata_damaged", "weights_metadata_truncated", "weights_missing",
                   "weights_empty_folder", "weights_is_a_file")],
    case("predict-model-missing-folder", "predict {face} --model {t}/nope", contains="no model"),
    case("predict-model-file-not-folder", "predict {face} --model {t}/afile"),
    case("predict-model-svm-corrupt-joblib", "predict {face} --model {in}/bad.joblib", contains="bad.joblib"),
    case("predict-model-svm-truncated-joblib", "predict {face} --model {in}/truncated.joblib"),
    case("predict-model-svm-empty-joblib", "predict {face} --model {in}/empty.joblib"),
    case("predict-model-svm-not-an-svm", "predict {face} --model {in}/dict.joblib", contains="not a HogSVM"),
    case("predict-model-svm-missing-joblib", "predict {face} --model {t}/nope.joblib"),
    case("predict-model-error-with-annotate", "predict {face} --model {m}/json_missing --annotate {t}/ann",
         absent=("{t}/ann",)),
    # ------------------------------------------------------------------ predict: flags
    case("predict-flag-unknown", PRED + " --bogus"),
    case("predict-flag-no-paths", "predict --model {tiny}"),
    case("predict-flag-every-zero", PRED + " --every 0"),
    case("predict-flag-every-negative", PRED + " --every -1"),
    case("predict-flag-every-not-a-number", PRED + " --every soon"),
    case("predict-flag-amplify-negative", PRED + " --amplify -3"),
    case("predict-flag-upsample-not-int", PRED + " --upsample 1.5"),
    case("predict-flag-upsample-negative", PRED + " --upsample -1"),
    case("predict-flag-views-bad-choice", PRED + " --views 3"),
    case("predict-flag-detector-bad-choice", PRED + " --detector yolo"),
    # ------------------------------------------------------------------ predict: output paths
    case("predict-annotate-is-a-file", PRED + " --annotate {t}/afile", contains="not a folder"),
    case("predict-annotate-under-a-file", PRED + " --annotate {t}/afile/sub", contains="not a folder"),
    case("predict-out-is-a-file", PRED + " --out {t}/afile", contains="not a folder"),
    case("predict-out-under-a-file", PRED + " --out {t}/afile/sub", contains="not a folder"),
    case("predict-annotate-into-a-missing-folder-works", PRED + " --annotate {t}/new/deeper", code=0, errors=0,
         exists=("{t}/new/deeper/good_annotated.png",)),
    # ------------------------------------------------------------------ live: videos and camera
    case("live-video-missing", "live --video {t}/missing.mp4 --model {tiny}"),
    case("live-video-empty", "live --video {in}/empty.mp4 --model {tiny}", contains="empty"),
    case("live-video-corrupt", "live --video {in}/random.avi --model {tiny}"),
    case("live-video-not-a-video", "live --video {in}/text.mp4 --model {tiny}"),
    case("live-video-header-only", "live --video {faces}/header_only.avi --model {tiny} --save {t}/out.mp4",
         absent=("{t}/out.mp4", "{t}/.out*")),
    case("live-video-is-a-folder", "live --video {in}/noimages --model {tiny}"),
    case("live-no-camera", "live --camera 7 --model {tiny}", contains="camera"),
    # ------------------------------------------------------------------ live: models
    case("live-model-json-empty-object", LIVE + " --model {m}/json_empty_object --save {t}/out.mp4",
         absent=("{t}/out.mp4", "{t}/.out*")),
    case("live-model-weights-truncated", LIVE + " --model {m}/weights_truncated --save {t}/out.mp4",
         absent=("{t}/out.mp4", "{t}/.out*")),
    case("live-model-missing", LIVE + " --model {t}/nope"),
    case("live-model-svm-truncated", LIVE + " --model {in}/truncated.joblib"),
    # ------------------------------------------------------------------ live: flags
    case("live-flag-unknown", LIVE + " --bogus"),
    case("live-flag-every-zero", LIVE + " --every 0"),
    case("live-flag-smoothing-too-big", LIVE + " --smoothing 1.5"),
    case("live-flag-smoothing-negative", LIVE + " --smoothing -0.1"),
    case("live-flag-amplify-zero", LIVE + " --amplify 0"),
    case("live-flag-detect-every-zero", LIVE + " --detect-every 0"),
    case("live-flag-detect-width-tiny", LIVE + " --detect-width 10"),
    case("live-flag-upsample-negative", LIVE + " --upsample -1"),
    case("live-flag-max-frames-zero", LIVE + " --max-frames 0"),
    case("live-flag-collect-without-label", LIVE + " --collect {t}/me"),
    case("live-flag-label-without-collect", LIVE + " --label happy"),
    case("live-flag-collect-rate-zero", LIVE + " --collect {t}/me --label happy --collect-rate 0"),
    case("live-flag-camera-not-int", "live --camera front --model {tiny}"),
    case("live-flag-camera-and-video", "live --camera 1 --video {clip} --model {tiny}"),
    case("live-flag-show-without-display", LIVE + " --show", env={"DISPLAY": None, "WAYLAND_DISPLAY": None},
         contains="display", linux=True),
    case("live-collect-unknown-label", LIVE + " --collect {t}/me --label gleeful", absent=("{t}/me",)),
    case("live-collect-is-a-file", LIVE + " --collect {t}/afile --label happy"),
    # ------------------------------------------------------------------ live: output paths
    case("live-save-under-a-file", LIVE + " --save {t}/afile/out.mp4"),
    case("live-save-unsupported-suffix", LIVE + " --save {t}/out.txt", absent=("{t}/out.txt", "{t}/.out*")),
    case("live-save-into-a-missing-folder-works", LIVE + " --save {t}/new/sub/out.mp4", code=0, errors=0,
         exists=("{t}/new/sub/out.mp4",)),
    # ------------------------------------------------------------------ serve: arguments only
    case("serve-port-zero", "serve --port 0"),
    case("serve-port-too-big", "serve --port 70000"),
    case("serve-port-negative", "serve --port -5"),
    case("serve-port-not-int", "serve --port http"),
    case("serve-workers-zero", "serve --workers 0"),
    case("serve-max-upload-negative", "serve --max-upload-mb -1"),
    case("serve-max-pixels-zero", "serve --max-pixels 0"),
    case("serve-flag-unknown", "serve --bogus"),
    case("serve-model-missing", "serve --model cnn={t}/nope", contains="no model"),
    case("serve-model-no-name", "serve --model =x"),
    case("serve-model-same-name-twice", "serve --model a={m}/json_missing --model a={m}/json_list"),
    case("serve-host-unresolvable", "serve --host no-such-host.invalid"),
    case("serve-root-path-relative", "serve --root-path emojax/", contains="--root-path"),
    case("serve-origin-with-a-path", "serve --allow-origin https://example.com/app", contains="with no path"),
    # ------------------------------------------------------------------ evaluate
    case("evaluate-data-missing", "evaluate --model {tiny} --data {t}/nope.csv"),
    case("evaluate-data-empty", "evaluate --model {tiny} --data {ds}/empty.csv"),
    case("evaluate-data-truncated-gz", "evaluate --model {tiny} --data {ds}/truncated.csv.gz"),
    case("evaluate-data-wrong-columns", "evaluate --model {tiny} --data {ds}/wrong_columns.csv"),
    case("evaluate-data-non-numeric", "evaluate --model {tiny} --data {ds}/non_numeric.csv"),
    case("evaluate-data-header-only", "evaluate --model {tiny} --data {ds}/header_only.csv"),
    case("evaluate-data-binary", "evaluate --model {tiny} --data {ds}/binary.csv"),
    case("evaluate-model-missing", "evaluate --model {t}/nope --data {csv}"),
    case("evaluate-model-weights-truncated", "evaluate --model {m}/weights_truncated --data {csv}"),
    case("evaluate-model-unknown-architecture", "evaluate --model {m}/json_unknown_architecture --data {csv}"),
    case("evaluate-model-is-a-file", "evaluate --model {t}/afile --data {csv}"),
    case("evaluate-flag-views-bad-choice", EVAL + " --views 4"),
    case("evaluate-flag-split-bad-choice", EVAL + " --split train"),
    case("evaluate-flag-unknown", EVAL + " --bogus"),
    case("evaluate-photos-missing", EVAL + " --photos {t}/nope"),
    case("evaluate-photos-is-a-file", EVAL + " --photos {t}/afile"),
    case("evaluate-photos-empty-folder", EVAL + " --photos {in}/noimages"),
    case("evaluate-flag-amplify-not-a-number", EVAL + " --photos {in}/noimages --amplify strong"),
    case("evaluate-flag-amplify-zero", EVAL + " --photos {in}/noimages --amplify 0"),
    case("evaluate-flag-amplify-without-photos", EVAL + " --amplify 3", contains="--photos"),
    case("evaluate-out-is-a-file", EVAL + " --out {t}/afile"),
    case("evaluate-out-under-a-file", EVAL + " --out {t}/afile/sub"),
    # ------------------------------------------------------------------ data
    case("data-no-subcommand", "data"),
    case("data-bad-subcommand", "data show"),
    case("data-info-missing", "data info --data {t}/nope.csv"),
    case("data-info-empty", "data info --data {ds}/empty.csv", contains="empty"),
    case("data-info-header-only", "data info --data {ds}/header_only.csv"),
    case("data-info-truncated-gz", "data info --data {ds}/truncated.csv.gz"),
    case("data-info-gz-damaged-stream", "data info --data {ds}/damaged_stream.csv.gz"),
    case("data-info-pixels-odd-whitespace", "data info --data {ds}/odd_whitespace.csv"),
    case("data-info-not-gzip", "data info --data {ds}/not_gzip.csv.gz"),
    case("data-info-wrong-columns", "data info --data {ds}/wrong_columns.csv", contains="pixels"),
    case("data-info-non-numeric", "data info --data {ds}/non_numeric.csv"),
    case("data-info-short-pixel-rows", "data info --data {ds}/short_pixels.csv"),
    case("data-info-pixel-out-of-range", "data info --data {ds}/pixel_300.csv"),
    case("data-info-unknown-emotion", "data info --data {ds}/emotion_9.csv"),
    case("data-info-unknown-usage", "data info --data {ds}/usage_holdout.csv"),
    case("data-info-binary", "data info --data {ds}/binary.csv"),
    case("data-info-folder-without-images", "data info --data {in}/noimages"),
    case("data-info-folder-of-corrupt-images", "data info --data {ds}/bad_images"),
    case("data-info-folder-with-an-empty-image", "data info --data {ds}/empty_image"),
    case("data-info-labels-bad-choice", "data info --data {csv} --labels fer2016"),
    case("data-info-ferplus-missing", "data info --data {ds}/fp_missing/fer2013.csv --labels ferplus"),
    case("data-info-ferplus-wrong-columns", "data info --data {ds}/fp_columns/fer2013.csv --labels ferplus"),
    case("data-info-ferplus-non-numeric", "data info --data {ds}/fp_non_numeric/fer2013.csv --labels ferplus"),
    case("data-info-ferplus-too-few-rows", "data info --data {ds}/fp_short/fer2013.csv --labels ferplus"),
    case("data-info-ferplus-empty", "data info --data {ds}/fp_empty/fer2013.csv --labels ferplus"),
    case("data-download-no-url", "data download --to {t}/dl", contains="Kaggle"),
    case("data-download-missing-file", "data download file://{t}/nope.zip --to {t}/dl", absent=("{t}/dl/*",)),
    case("data-download-not-a-url", "data download fer2013 --to {t}/dl", absent=("{t}/dl/*",)),
    case("data-download-refused", "data download http://127.0.0.1:9/fer.zip --to {t}/dl", absent=("{t}/dl/*",)),
    case("data-download-corrupt-archive", "data download file://{in}/garbage.zip --to {t}/dl",
         absent=("{t}/dl/*",)),
    # ------------------------------------------------------------------ train
    case("train-data-missing", TRAIN.replace("{csv}", "{t}/nope.csv"), absent=NO_RUN),
    case("train-data-empty", TRAIN.replace("{csv}", "{ds}/empty.csv"), absent=NO_RUN),
    case("train-data-truncated-gz", TRAIN.replace("{csv}", "{ds}/truncated.csv.gz"), absent=NO_RUN),
    case("train-data-wrong-columns", TRAIN.replace("{csv}", "{ds}/wrong_columns.csv"), absent=NO_RUN),
    case("train-data-non-numeric", TRAIN.replace("{csv}", "{ds}/non_numeric.csv"), absent=NO_RUN),
    case("train-data-binary", TRAIN.replace("{csv}", "{ds}/binary.csv"), absent=NO_RUN),
    case("train-ferplus-missing", TRAIN + " --labels ferplus --ferplus {t}/nope.csv", absent=NO_RUN),
    case("train-ferplus-wrong-columns", TRAIN + " --labels ferplus --ferplus {ds}/fp_columns/fer2013new.csv",
         absent=NO_RUN),
    case("train-ferplus-non-numeric", TRAIN + " --labels ferplus --ferplus {ds}/fp_non_numeric/fer2013new.csv",
         absent=NO_RUN),
    case("train-ferplus-too-few-rows", TRAIN + " --labels ferplus --ferplus {ds}/fp_short/fer2013new.csv",
         absent=NO_RUN),
    case("train-flag-config-bad-choice", TRAIN + " --config resnet", absent=NO_RUN),
    case("train-flag-epochs-not-int", TRAIN + " --epochs ten", absent=NO_RUN),
    case("train-flag-unknown", TRAIN + " --bogus", absent=NO_RUN),
    case("train-flag-labels-bad-choice", TRAIN + " --labels affectnet", absent=NO_RUN),
    case("train-flag-ferplus-mode-bad-choice", TRAIN + " --ferplus-mode vote", absent=NO_RUN),
    case("train-flag-precision-bad-choice", TRAIN + " --precision float16", absent=NO_RUN),
    case("train-flag-snapshots-negative", TRAIN + " --snapshots -1", absent=NO_RUN),
    case("train-flag-lr-not-a-number", TRAIN + " --lr fast", absent=NO_RUN),
    case("train-flag-batch-size-zero", TRAIN + " --batch-size 0", absent=NO_RUN),
    case("train-flag-batch-size-negative", TRAIN + " --batch-size -4", absent=NO_RUN),
    case("train-flag-epochs-zero", TRAIN + " --epochs 0", absent=NO_RUN),
    case("train-flag-epochs-negative", TRAIN + " --epochs -1", absent=NO_RUN),
    case("train-flag-patience-negative", TRAIN + " --patience -1", absent=NO_RUN),
    case("train-flag-width-negative", TRAIN + " --width -1", absent=NO_RUN),
    case("train-flag-lr-negative", TRAIN + " --lr -1", absent=NO_RUN),
    case("train-flag-subset-negative", TRAIN + " --subset -536", absent=NO_RUN),
    case("train-out-is-a-file", TRAIN.replace("{t}/run", "{t}/afile"), contains="not a folder"),
    case("train-out-under-a-file", TRAIN.replace("{t}/run", "{t}/afile/sub")),
    case("train-out-holds-a-run", TRAIN, setup=_holds_run, contains="already holds a run",
         absent=("{t}/run/ckpt", "{t}/run/tb", "{t}/run/architecture.txt")),
    case("train-init-missing", TRAIN + " --init {t}/nope", absent=NO_RUN),
    case("train-init-is-a-file", TRAIN + " --init {t}/afile", absent=NO_RUN),
    case("train-init-damaged", TRAIN + " --init {m}/json_unknown_keyword", absent=NO_RUN),
    case("train-init-weights-damaged", TRAIN + " --init {m}/weights_manifest_damaged", absent=NO_RUN),
    # ------------------------------------------------------------------ svm
    case("svm-data-missing", SVM_.replace("{csv}", "{t}/nope.csv"), absent=NO_SVM),
    case("svm-data-wrong-columns", SVM_.replace("{csv}", "{ds}/wrong_columns.csv"), absent=NO_SVM),
    case("svm-data-truncated-gz", SVM_.replace("{csv}", "{ds}/truncated.csv.gz"), absent=NO_SVM),
    case("svm-data-non-numeric", SVM_.replace("{csv}", "{ds}/non_numeric.csv"), absent=NO_SVM),
    case("svm-too-few-images-for-pca", SVM_ + " --subset 10", absent=NO_SVM, contains="too few"),
    case("svm-flag-unknown", SVM_ + " --bogus", absent=NO_SVM),
    case("svm-flag-C-not-a-number", SVM_ + " --C big", absent=NO_SVM),
    case("svm-flag-C-negative", SVM_ + " --C -1", absent=NO_SVM),
    case("svm-flag-cells-zero", SVM_ + " --cells 0", absent=NO_SVM),
    case("svm-flag-landmarks-zero", SVM_ + " --landmarks 0", absent=NO_SVM),
    case("svm-flag-pca-zero", SVM_ + " --pca 0", absent=NO_SVM),
    case("svm-out-is-a-file", SVM_.replace("{t}/svm", "{t}/afile")),
    # ------------------------------------------------------------------ compare
    case("compare-svm-corrupt", CMP.replace("{svm}", "{in}/bad.joblib"), absent=NO_CMP),
    case("compare-svm-truncated", CMP.replace("{svm}", "{in}/truncated.joblib"), absent=NO_CMP),
    case("compare-svm-not-an-svm", CMP.replace("{svm}", "{in}/dict.joblib"), absent=NO_CMP),
    case("compare-svm-missing", CMP.replace("{svm}", "{t}/nope.joblib"), absent=NO_CMP),
    case("compare-cnn-missing", CMP.replace("{tiny}", "{t}/nope"), absent=NO_CMP),
    case("compare-cnn-metadata-damaged", CMP.replace("{tiny}", "{m}/weights_metadata_damaged"), absent=NO_CMP),
    case("compare-data-missing", CMP.replace("{csv}", "{t}/nope.csv"), absent=NO_CMP),
    case("compare-data-wrong-columns", CMP.replace("{csv}", "{ds}/wrong_columns.csv"), absent=NO_CMP),
    case("compare-flag-limit-not-int", CMP + " --limit some", absent=NO_CMP),
    case("compare-flag-repeats-zero", CMP + " --repeats 0", absent=NO_CMP),
    case("compare-flag-limit-negative", CMP + " --limit -3", absent=NO_CMP),
    case("compare-out-dir-is-a-file", CMP.replace("{t}/cmp", "{t}/afile")),
    # ------------------------------------------------------------------ attack
    case("attack-model-missing", ATK.replace("{tiny}", "{t}/nope"), absent=NO_ATK),
    case("attack-model-unknown-architecture", ATK.replace("{tiny}", "{m}/json_unknown_architecture"),
         absent=NO_ATK),
    case("attack-model-is-a-file", ATK.replace("{tiny}", "{t}/afile"), absent=NO_ATK),
    case("attack-data-missing", ATK.replace("{csv}", "{t}/nope.csv"), absent=NO_ATK),
    case("attack-data-wrong-columns", ATK.replace("{csv}", "{ds}/wrong_columns.csv"), absent=NO_ATK),
    case("attack-source-unknown", ATK + " --source gleeful", absent=NO_ATK, contains="gleeful"),
    case("attack-target-unknown", ATK + " --target grumpy", absent=NO_ATK, contains="grumpy"),
    case("attack-flag-eps-zero", ATK + " --eps-max 0", absent=NO_ATK),
    case("attack-flag-eps-not-a-number", ATK + " --eps-max tiny", absent=NO_ATK),
    case("attack-flag-eps-too-big", ATK + " --eps-max 2", absent=NO_ATK),
    case("attack-flag-eps-below-one-level", ATK + " --eps-max 0.001", absent=NO_ATK, contains="1/255"),
    case("attack-flag-success-eps-negative", ATK + " --success-eps -4/255", absent=NO_ATK),
    case("attack-flag-limit-zero", ATK + " --limit 0", absent=NO_ATK),
    case("attack-flag-limit-negative", ATK + " --limit -2", absent=NO_ATK),
    case("attack-image-missing", ATK + " --image {t}/nope.jpg", absent=NO_ATK),
    case("attack-image-corrupt", ATK + " --image {in}/garbage.jpg", absent=NO_ATK),
    case("attack-image-png-bomb", ATK + " --image {in}/bomb.png", absent=NO_ATK, contains="too large"),
    case("attack-image-no-face", ATK + " --image {faces}/blank.png", absent=NO_ATK, contains="no face"),
    case("attack-out-is-a-file", ATK.replace("{t}/atk", "{t}/afile")),
    # ------------------------------------------------------------------ personalize
    case("personalize-images-missing", PERS.replace("{me}", "{t}/nope"), absent=NO_PERS),
    case("personalize-images-empty-folder", PERS.replace("{me}", "{in}/noimages"), absent=NO_PERS),
    case("personalize-images-is-a-file", PERS.replace("{me}", "{t}/afile"), absent=NO_PERS),
    case("personalize-images-flag-missing", "personalize --model {tiny} --out {t}/pers", absent=NO_PERS),
    case("personalize-labels-missing", PERS + " --labels {t}/nope.csv", absent=NO_PERS),
    case("personalize-model-missing", PERS.replace("{tiny}", "{t}/nope"), absent=NO_PERS),
    case("personalize-model-manifest-damaged", PERS.replace("{tiny}", "{m}/weights_manifest_damaged"),
         absent=NO_PERS),
    case("personalize-model-json-truncated", PERS.replace("{tiny}", "{m}/json_truncated"), absent=NO_PERS),
    case("personalize-flag-variant-bad-choice", PERS + " --variant everything", absent=NO_PERS),
    case("personalize-flag-steps-not-int", PERS + " --steps many", absent=NO_PERS),
    case("personalize-joint-without-fer", PERS + " --variant joint", absent=NO_PERS),
    case("personalize-joint-fer-missing", PERS + " --variant joint --fer {t}/nope.csv", absent=NO_PERS),
    case("personalize-joint-fer-wrong-columns", PERS + " --variant joint --fer {ds}/wrong_columns.csv",
         absent=NO_PERS),
    case("personalize-holdout-too-big", PERS + " --holdout 2", absent=NO_PERS),
    case("personalize-holdout-negative", PERS + " --holdout -1", absent=NO_PERS),
    case("personalize-steps-negative", PERS + " --steps -1", absent=NO_PERS),
    case("personalize-out-is-a-file", PERS.replace("{t}/pers", "{t}/afile")),
]


# --------------------------------------------------------------------------- inputs


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Bad files that need no shared data."""
    import joblib

    d = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(17)
    _write(d / "empty.jpg", b"")
    _write(d / "garbage.jpg", b"\xff\xd8\xff\xe0" + rng.bytes(3000))
    _write(d / "text.png", "this is not a PNG\n" * 20)
    _write(d / "notes.txt", "a text file\n")
    _write(d / "drawing.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                              '<circle cx="32" cy="32" r="20"/></svg>\n')
    _write(d / "bomb.png", png_bomb())
    (d / "noimages").mkdir()
    _write(d / "photo.jpg" / "readme.txt", "a folder named like a photo\n")
    _write(d / "random.avi", rng.bytes(5000))
    _write(d / "empty.mp4", b"")
    _write(d / "text.mp4", "not a video\n" * 100)
    _write(d / "garbage.zip", b"PK\x03\x04" + rng.bytes(2000))
    _write(d / "bad.joblib", b"garbage" * 20)
    _write(d / "empty.joblib", b"")
    joblib.dump({"not": "an svm"}, d / "dict.joblib")
    if SVM.exists():
        blob = SVM.read_bytes()
        _write(d / "truncated.joblib", blob[:len(blob) // 2])
    return d


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """Files made from a real photo: good and truncated images, a short clip, a blank image."""
    import cv2

    if not FACE_JPG.exists():
        pytest.skip(f"test photo not found at {FACE_JPG}")
    d = tmp_path_factory.mktemp("faces")
    jpg = FACE_JPG.read_bytes()
    _write(d / "good.jpg", jpg)
    _write(d / "truncated.jpg", jpg[:int(len(jpg) * 0.6)])
    _write(d / "header_only.jpg", jpg[:600])
    img = cv2.imread(str(FACE_JPG))
    png = cv2.imencode(".png", img)[1].tobytes()
    _write(d / "truncated.png", png[:len(png) // 2])
    cv2.imwrite(str(d / "blank.png"), np.full((200, 200, 3), 128, np.uint8))
    small = cv2.resize(img, (img.shape[1] * 240 // img.shape[0], 240))
    frame = cv2.copyMakeBorder(small, 0, 0, 0, 320 - small.shape[1], cv2.BORDER_REPLICATE)
    for name, n in (("clip.avi", 12), ("long.avi", 600)):
        writer = cv2.VideoWriter(str(d / name), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
        for i in range(n):
            m = cv2.getRotationMatrix2D((160, 120), 3 * np.sin(i / 5), 1.0)
            writer.write(cv2.warpAffine(frame, m, (320, 240), borderMode=cv2.BORDER_REPLICATE))
        writer.release()
    clip = (d / "clip.avi").read_bytes()
    _write(d / "header_only.avi", clip[:len(clip) // 100])
    return d


@pytest.fixture(scope="module")
def datasets(fer_rows, small_csv, tmp_path_factory) -> Path:
    """Damaged FER2013 / FER+ files made from real rows."""
    d = tmp_path_factory.mktemp("datasets")
    header, rows = fer_rows[0], fer_rows[1:101]
    good = small_csv.read_bytes()
    _write(d / "empty.csv", b"")
    _write(d / "header_only.csv", header)
    _write(d / "truncated.csv.gz", gzip.compress(good)[:len(gzip.compress(good)) // 2])
    _write(d / "not_gzip.csv.gz", good[:50000])
    blob = bytearray(gzip.compress("".join(fer_rows[:3]).encode(), mtime=0))  # header + 2 rows
    blob[int(len(blob) * 0.3)] ^= 1  # one bit of the deflate stream (found by test_fuzz.py)
    _write(d / "damaged_stream.csv.gz", bytes(blob))
    _write(d / "wrong_columns.csv", "emotion,image,Usage\n" + "".join(rows))
    def mutate(fn):
        out = []
        for r in rows:
            emotion, pixels, usage = r.rstrip("\n").split(",")
            out.append(",".join(fn(emotion, pixels.split(), usage)) + "\n")
        return header + "".join(out)
    _write(d / "non_numeric.csv", mutate(lambda e, p, u: (e, " ".join(["x"] + p[1:]), u)))
    _write(d / "short_pixels.csv", mutate(lambda e, p, u: (e, " ".join(p[:-1]), u)))
    _write(d / "odd_whitespace.csv", mutate(lambda e, p, u: (e, " ".join(p[:5]) + "\x1c" + " ".join(p[5:]), u)))
    _write(d / "pixel_300.csv", mutate(lambda e, p, u: (e, " ".join(["300"] + p[1:]), u)))
    _write(d / "emotion_9.csv", mutate(lambda e, p, u: ("9", " ".join(p), u)))
    _write(d / "usage_holdout.csv", mutate(lambda e, p, u: (e, " ".join(p), "Holdout")))
    _write(d / "binary.csv", np.random.default_rng(1).bytes(20000))
    _write(d / "bad_images" / "train" / "angry" / "0.png", b"not a png")
    _write(d / "bad_images" / "train" / "happy" / "1.jpg", b"\xff\xd8\xff\xe0 truncated")
    _write(d / "empty_image" / "train" / "happy" / "0.png", b"")
    fp_lines = (SHARED / "fer2013new.csv").read_text().splitlines(keepends=True) if (SHARED / "fer2013new.csv").exists() \
        else ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"] + \
             ["Training,fer0000000.png,10,0,0,0,0,0,0,0,0,0\n"] * 1000
    fp_head, fp_rows = fp_lines[0], fp_lines[1:1001]
    variants = {
        "fp_missing": None,
        "fp_columns": "Usage,Image name,a,b,c\n" + "".join(fp_rows),
        "fp_non_numeric": fp_head + "".join(r.replace(",", ",x", 3) if i % 3 == 0 else r
                                            for i, r in enumerate(fp_rows)),
        "fp_short": fp_head + "".join(fp_rows[:5]),
        "fp_empty": "",
    }
    for name, text in variants.items():
        shutil.copy(small_csv, _write(d / name / "fer2013.csv", b""))
        if text is not None:
            _write(d / name / "fer2013new.csv", text)
    return d


_DAMAGE = {
    "json_truncated": lambda d: _cut(d / "model.json", 0.5),
    "json_empty_file": lambda d: (d / "model.json").write_text(""),
    "json_empty_object": lambda d: (d / "model.json").write_text("{}"),
    "json_list": lambda d: (d / "model.json").write_text("[1, 2, 3]"),
    "json_binary": lambda d: (d / "model.json").write_bytes(b"\xff\xfe\x00\x81garbage"),
    "json_unknown_keyword": lambda d: _meta(d, kwargs={"width": 48, "dense": 256, "dropout": 0.4, "heads": 4}),
    "json_unknown_architecture": lambda d: _meta(d, model="resnet50"),
    "json_wrong_width": lambda d: _meta(d, kwargs={"width": 32, "dense": 256, "dropout": 0.4}),
    "json_negative_width": lambda d: _meta(d, kwargs={"width": -3}),
    "json_wrong_classes": lambda d: _meta(d, classes=["happy", "sad", "other"]),
    "json_missing": lambda d: (d / "model.json").unlink(),
    "weights_truncated": lambda d: _cut(_biggest(d), 0.5),
    "weights_emptied": lambda d: [p.write_bytes(b"") for p in (d / "weights").rglob("*")
                                  if p.is_file() and p.parent.name == "d"],
    "weights_data_removed": lambda d: shutil.rmtree(d / "weights" / "ocdbt.process_0" / "d"),
    "weights_manifest_damaged": lambda d: (d / "weights" / "manifest.ocdbt").write_bytes(b"garbage"),
    "weights_metadata_damaged": lambda d: (d / "weights" / "_METADATA").write_text("{not json"),
    "weights_metadata_truncated": lambda d: _cut(d / "weights" / "_METADATA", 0.5),
    "weights_missing": lambda d: shutil.rmtree(d / "weights"),
    "weights_empty_folder": lambda d: (shutil.rmtree(d / "weights"), (d / "weights").mkdir()),
    "weights_is_a_file": lambda d: (shutil.rmtree(d / "weights"), (d / "weights").write_text("weights")),
}


def _cut(path: Path, frac: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * frac)])


def _meta(d: Path, **changes) -> None:
    meta = json.loads((d / "model.json").read_text())
    (d / "model.json").write_text(json.dumps({**meta, **changes}))


def _biggest(d: Path) -> Path:
    return max((p for p in (d / "weights").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


@pytest.fixture(scope="module")
def damaged_models(tmp_path_factory) -> Path:
    """Copies of the shipped model (model.json + weights/), each damaged one way."""
    if not (MODEL / "model.json").exists():
        pytest.skip(f"shipped model not found at {MODEL}")
    root = tmp_path_factory.mktemp("models")
    for name, damage in _DAMAGE.items():
        d = root / name
        shutil.copytree(MODEL, d, ignore=lambda src, names: [n for n in names if src == str(MODEL)
                                                             and n not in ("model.json", "weights")])
        damage(d)
    return root


@pytest.fixture(scope="module")
def my_faces(fer_rows, tmp_path_factory) -> Path:
    """A personal photo set: 28 real 48x48 crops (4 per emotion) and label.csv."""
    import cv2

    from emojax.data import FER_CLASSES

    d = tmp_path_factory.mktemp("me")
    lines, seen = ["file,emotion"], {}
    for row in fer_rows[1:]:
        emotion, pixels, _ = row.rstrip("\n").split(",")
        e = int(emotion)
        if seen.get(e, 0) >= 4:
            continue
        seen[e] = seen.get(e, 0) + 1
        name = f"{FER_CLASSES[e]}_{seen[e]}.png"
        cv2.imwrite(str(d / name), np.array(pixels.split(), np.uint8).reshape(48, 48))
        lines.append(f"{name},{FER_CLASSES[e]}")
    (d / "label.csv").write_text("\n".join(lines) + "\n")
    return d


class Paths(dict):
    """The {placeholders} of a case, each built (or skipped) only when a case names it."""

    def __init__(self, request, t: Path):
        super().__init__(t=str(t))
        self.request = request

    def __missing__(self, key):
        fix = self.request.getfixturevalue
        make = {
            "in": lambda: fix("inputs"),
            "faces": lambda: fix("faces"),
            "face": lambda: fix("faces") / "good.jpg",
            "clip": lambda: fix("faces") / "clip.avi",
            "m": lambda: fix("damaged_models"),
            "csv": lambda: fix("small_csv"),
            "ds": lambda: fix("datasets"),
            "tiny": lambda: fix("tiny_cnn"),
            "me": lambda: fix("my_faces"),
            "svm": lambda: SVM if SVM.exists() else pytest.skip(f"shipped SVM not found at {SVM}"),
        }[key]
        value = self[key] = str(make())
        return value


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def _guards(monkeypatch):
    """Nothing in the table may start a server or train on the synthetic demo set: if a check
    is missing, the case fails at once instead of hanging or writing into results/demo."""
    import uvicorn

    import emojax.data

    def refuse(what):
        def f(*a, **k):
            raise AssertionError(f"a bad-input case reached {what}")
        return f
    monkeypatch.setattr(uvicorn, "run", refuse("uvicorn.run (the server would start)"))
    monkeypatch.setattr(emojax.data, "make_demo", refuse("the synthetic demo set (train without data)"))
    yield


def call_main(argv: list[str]) -> tuple[int | None, str, str]:
    """``python -m emojax ARGV`` in this process: (exit status, stdout, stderr). An exception
    that escapes ``emojax.io.run`` is printed as the interpreter would print it."""
    from emojax import cli
    from emojax.io import run

    out, err = io.StringIO(), io.StringIO()
    handler, argv0 = signal.getsignal(signal.SIGTERM), sys.argv[0]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run(cli.main, argv)
                code = 0
            except SystemExit as e:
                code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
            except Exception:
                traceback.print_exc(file=err)
                code = 1
    finally:
        signal.signal(signal.SIGTERM, handler)
        sys.argv[0] = argv0
    return code, out.getvalue(), err.getvalue()


def error_lines(stderr: str) -> list[str]:
    """The `error: ...` lines, and argparse's `PROG: error: ...` when a usage line came first."""
    lines = stderr.splitlines()
    usage = any(line.startswith("usage:") for line in lines)
    return [line for line in lines if line.startswith("error:") or (usage and ": error: " in line)]


def leftover_temporaries(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob(".*") if TEMP_NAME.match(p.name)]


@pytest.mark.parametrize("c", CASES)
def test_bad_input(c: Case, request, tmp_path, monkeypatch):
    t = tmp_path / "case"
    t.mkdir()
    (t / "afile").write_text("keep")
    paths = Paths(request, t)
    argv = [a.format_map(paths) for a in shlex.split(c.cmd)]
    if c.setup:
        c.setup(t)
    monkeypatch.chdir(t)  # relative defaults (data/, results/model) land in the case folder
    monkeypatch.delenv("EMOJAX_DATA", raising=False)
    for k, v in (c.env or {}).items():
        monkeypatch.delenv(k, raising=False) if v is None else monkeypatch.setenv(k, v)
    with _guards(monkeypatch):
        code, out, err = call_main(argv)
    shown = f"python -m emojax {shlex.join(argv)}\n--- stderr:\n{err}--- stdout:\n{out[-2000:]}"
    assert "Traceback" not in err, shown
    assert code == c.code, shown
    errors = error_lines(err)
    assert len(errors) == c.errors, shown
    if c.contains:
        assert c.contains.lower() in "\n".join(errors).lower(), shown
    assert (t / "afile").read_text() == "keep", "a file given as a folder was changed"
    for pattern in c.absent:
        left = list(Path("/").glob(pattern.format_map(paths).lstrip("/")))
        assert not left, f"left behind: {left}\n{shown}"
    for name in c.exists:
        assert Path(name.format_map(paths)).is_file(), f"{name} was not written\n{shown}"
    folders = [t] + [Path(paths[k]) for k in ("in", "faces", "ds") if k in paths]
    assert not leftover_temporaries(*folders), shown


def test_the_table_is_big_enough():
    commands = {p.values[0].cmd.split()[0] for p in CASES}
    assert len(CASES) >= 100
    assert {"predict", "live", "serve", "evaluate", "data", "train", "svm", "compare", "attack",
            "personalize"} <= commands


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("args, contains", [
    (["-m", "emojax", "predcit", "photo.jpg"], "unknown subcommand"),
    (["-m", "emojax", "predict", "{in}/bomb.png", "--model", "{tiny}"], "too large"),
    (["-m", "emojax", "data", "info", "--data", "{ds}/truncated.csv.gz"], "cannot read"),
], ids=["unknown-subcommand", "predict-png-bomb", "data-truncated-gz"])
def test_end_to_end_one_error_line(args, contains, request, tmp_path):
    """The same rule for a real process: exit 2, one `error:` line, no traceback."""
    paths = Paths(request, tmp_path)
    proc = run_cli(*[a.format_map(paths) for a in args], cwd=tmp_path, timeout=240)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and contains in "\n".join(errors), proc.stderr


# --------------------------------------------------------------------------- interruptions


def _start_live(faces: Path, model: str, save: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "emojax", "live", "--video", str(faces / "long.avi"),
                             "--save", str(save), "--every", "0.1", "--model", model, *extra],
                            cwd=save.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _after_frames(proc: subprocess.Popen, lines: int = 3, timeout: float = 240) -> None:
    """Wait until live has printed ``lines`` lines (= handled and saved a few frames)."""
    start, got = time.time(), 0
    while got < lines:
        assert time.time() - start < timeout, "live printed nothing"
        line = proc.stdout.readline()
        assert line, f"live ended early: {proc.stderr.read()}"
        got += 1


def _frames(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_sigterm_during_live_save_finalises_the_video(faces, tiny_cnn, tmp_path):
    """SIGTERM is Ctrl-C: live stops, --save is finalised (renamed into place, readable) and no
    temporary is left."""
    save = tmp_path / "out.mp4"
    proc = _start_live(faces, str(tiny_cnn), save)
    try:
        _after_frames(proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and not error_lines(err), err
    assert save.is_file() and _frames(save) >= 1, err
    assert not list(tmp_path.glob(".out.*")), list(tmp_path.iterdir())


def test_sigkill_leaves_a_temporary_that_the_next_save_removes(faces, tiny_cnn, tmp_path):
    """SIGKILL leaves no chance to clean up: the temporary stays (and out.mp4 is not created);
    the next run that saves to the same path removes it (its writer's process is gone)."""
    save = tmp_path / "out.mp4"
    proc = _start_live(faces, str(tiny_cnn), save)
    try:
        _after_frames(proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    left = list(tmp_path.glob(".out.*.mp4"))
    assert len(left) == 1 and str(proc.pid) in left[0].name and not save.exists(), list(tmp_path.iterdir())
    again = run_cli("-m", "emojax", "live", "--video", str(faces / "clip.avi"), "--save", str(save),
                    "--max-frames", "2", "--model", str(tiny_cnn), cwd=tmp_path, timeout=240)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert not list(tmp_path.glob(".out.*")), list(tmp_path.iterdir())
    assert _frames(save) == 2
