"""Emotion recognition over HTTP: a web page (photo upload and webcam) and a JSON API.

    python -m emojax.serve                                  # http://127.0.0.1:8000/ : the shipped CNN and SVM
    python -m emojax.serve --model cnn=results/model --model mine=runs/x/ --port 9000
    python -m emojax.serve --host 0.0.0.0 --save-uploads uploads/   # reachable from the network; keep photos
    python -m emojax.serve --root-path /emojax --allow-origin https://your.site   # behind a proxy, for your pages

Endpoints:

* ``GET /``: the page. Pick or drop a photo and see it annotated (boxes, top emotion,
  probability bars per face), or switch to the webcam: frames go to the server as JPEG
  several times a second and the page draws the overlay and logs ``11:11:12 : Happy , 93%``.
* ``POST /api/predict[?model=NAME&upsample=K]``: the image as the multipart field ``file``
  or as the raw body with an ``image/*`` content type -> ``{model, faces: [{box, emotion,
  probability, probabilities}], width, height, time_ms}``; ``box`` is ``[left, top, right,
  bottom]`` in pixels of the (EXIF-rotated) image. ``upsample`` (0-2) is the detector's: 1 by
  default, like ``emojax.predict``; the webcam page sends 0, like ``emojax.live``.
* ``POST /api/predict?stream=ID[&t=SECONDS&amplify=K]``: one frame of a video stream (the
  webcam page makes an ``ID`` when the camera starts). The stream's frames go through the live
  predictor's tracker (``emojax.track.FaceTracker``): faces are detected every third frame and
  followed by their landmarks in between, keep an index while in view (``track`` in each face)
  and have their probabilities smoothed over time, as ``python -m emojax.live`` does with a
  camera. ``amplify=K`` makes each face's expression K times plainer against its own usual look
  once it has been followed a few seconds (``amplified`` in each face says when), like ``live
  --amplify K``. ``t`` is the frame's time on the sender's clock (default: when it arrives). A
  stream is forgotten after 30 s without a frame (or when 64 newer ones are in progress); what
  it holds (boxes, landmarks, smoothed probabilities, with amplify the faces' mean look) stays
  in memory, never on disk. With ``--workers N`` each process tracks the frames it receives.
* ``POST /api/album[?model=NAME&upsample=K&amplify=K&tolerance=T]``: several photos in one
  request (the multipart field ``files``, repeated; at most 64, 100 MB in all) ->
  ``{model, photos: [{name, faces, width, height}], faces, time_ms}``, each photo's faces as
  ``/api/predict`` gives them. ``amplify=K`` makes each face's expression K times plainer
  against the same person's other faces among the photos before it is classified (who is who
  found by dlib's face recognition at ``tolerance``), like ``emojax predict album/ --amplify
  K``; the answer then says how many ``people`` were found and how many faces were
  ``amplified`` (a person needs 4 faces), and ``amplified`` in each face says which. Photos
  are decoded one at a time; a bad one fails the request with its name in the error.
* ``GET /api/models`` (the models and their classes; the first is the default),
  ``GET /api/health``, and the OpenAPI docs at ``/docs``.

A photo goes through :class:`emojax.pipeline.Predictor`, the pipeline of ``emojax.predict``,
with the model's chosen test-time views, so it gets the same answer here as on the command
line; a stream's frames go through the live predictor's tracker with the same classifier (ten
views cost about 50 ms a face). Models are loaded once, when the app is created.

Safety: the body is read in chunks and refused with 413 as soon as it passes ``max_upload``
(10 MB); the image size is read from the file header (PNG, JPEG, GIF, BMP, WebP; other formats
through Pillow's lazy open) and more than ``max_pixels`` (50 million) is refused with 413
before anything is decoded, so a few-KB "decompression bomb" costs nothing; an undecodable
file is 400 and a wrong content type 415, always with a one-line ``{"error": "..."}``. The
server binds to 127.0.0.1 unless ``--host`` says otherwise, serves its page from memory (no
client-given path reaches the file system) and keeps no upload unless ``--save-uploads DIR``,
which stores decodable images under names it makes itself. A browser lets another site's page
read the API only for the origins named with ``--allow-origin`` (CORS; none by default).

Concurrency: decoding and inference run in a thread pool, so requests are served
concurrently; at most ``os.cpu_count()`` (at least 2) images are decoded at once, which bounds
memory; each worker thread has its own dlib detector (``emojax.face``: one shared detector
corrupts the heap). ``--workers N`` runs N processes, each with its own models.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from emojax import face, geometry, identity
from emojax.io import EmojaxError, atomic_path
from emojax.pipeline import DEFAULT_MODEL, DEFAULT_SVM, Classifier, Predictor
from emojax.track import FaceTracker

MB = 1_000_000
MAX_UPLOAD = 10 * MB
MAX_PIXELS = face.MAX_PIXELS
STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
UPSAMPLE = (0, 1, 2)  # the detector's upsampling a request may ask for
MAX_ALBUM = 100 * MB  # one /api/album request, all its photos together
MAX_PHOTOS = 64  # photos in one /api/album request
MULTIPART_SLACK = 64 * 1024  # headers and boundaries a form may add around the file
ORIGIN = re.compile(r"https?://[^/?#\s]+")  # what a browser sends as Origin: scheme://host[:port]
STREAM_IDLE = 30.0  # seconds without a frame before a stream's tracker is forgotten
MAX_STREAMS = 64  # streams tracked at once: a new one pushes out the one idle longest
STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def default_models() -> dict[str, str | Path]:
    """The shipped CNN (``results/model``) and HOG+SVM baseline, those of them that exist."""
    found = {name: model for name, model, path in (("cnn", DEFAULT_MODEL, DEFAULT_MODEL), ("svm", "svm", DEFAULT_SVM))
             if Path(path).exists()}
    if not found:
        raise EmojaxError(f"no shipped model at {DEFAULT_MODEL} or {DEFAULT_SVM}: train one "
                          "(experiments/train_cnn.py) or pass --model PATH")
    return found


class UploadError(Exception):
    """A request the server refuses: HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_image(data: bytes, max_pixels: float = MAX_PIXELS) -> tuple[int, int]:
    """The (width, height) in an upload's header, refused unless it is an image of at most
    ``max_pixels``: nothing is decoded."""
    if not data:
        raise UploadError(400, "empty upload: send an image file")
    size = face.image_size(data)
    if size is None:
        raise UploadError(400, "not an image this server can read (PNG, JPEG, GIF, BMP, WebP, TIFF...)")
    w, h = size
    if w * h > max_pixels:
        raise UploadError(413, f"image too large: {w}x{h} = {w * h / 1e6:.0f} megapixels, "
                               f"the limit is {max_pixels / 1e6:g}")
    if w == 0 or h == 0:
        raise UploadError(400, f"image has no pixels ({w}x{h})")
    return w, h


def decode_image(data: bytes, max_pixels: float = MAX_PIXELS) -> np.ndarray:
    """Uploaded bytes -> RGB uint8 (H, W, 3); the pixel count is checked on the header first."""
    check_image(data, max_pixels)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None:
        raise UploadError(400, "cannot decode the image (corrupt or unsupported format)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------- request bodies


@dataclasses.dataclass
class _Part:
    name: str  # the file name the client gave (only echoed back, never used as a path)
    content_type: str
    data: bytes  # a bytearray while the form is being read


class _Form:
    """Streaming multipart parser that keeps the files of one ``field``: at most ``most`` of them,
    each up to ``limit`` bytes and ``total`` in all (one more is refused with 413, not dropped)."""

    def __init__(self, boundary: bytes, field: str, limit: int, most: int, total: int):
        self.field, self.limit, self.most, self.total, self.received = field.encode(), limit, most, total, 0
        self.files: list[_Part] = []
        self.error: UploadError | None = None
        self._headers, self._field, self._value, self._in_file = {}, b"", b"", False
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end})

    def _part_begin(self):
        self._headers, self._field, self._value = {}, b"", b""

    def _header_field(self, data, start, end):
        self._field += data[start:end]

    def _header_value(self, data, start, end):
        self._value += data[start:end]

    def _header_end(self):
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self):
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._in_file = options.get(b"name") == self.field
        if self._in_file and len(self.files) == self.most and self.error is None:
            self.error = (UploadError(413, f"too many files: at most {self.most} in one request") if self.most > 1
                          else UploadError(400, f"one '{self.field.decode()}' per request"))
        if self._in_file and self.error is None:
            self.files.append(_Part(options.get(b"filename", b"").decode("utf-8", "replace")[:255],
                                    self._headers.get(b"content-type", b"").decode("latin-1").strip().lower(),
                                    bytearray()))

    def _part_data(self, data, start, end):
        if self._in_file and self.error is None:
            part = self.files[-1]
            part.data += data[start:end]
            self.received += end - start
            if len(part.data) > self.limit:
                self.error = UploadError(413, f"upload too large: {part.name or 'a file'} is over "
                                              f"{self.limit / MB:g} MB")
            elif self.received > self.total:
                self.error = UploadError(413, f"upload too large: over {self.total / MB:g} MB in all")

    def _part_end(self):
        self._in_file = False

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except Exception as e:  # python_multipart's own errors on malformed forms
            raise UploadError(400, f"malformed multipart form: {e}") from e
        if self.error:
            raise self.error


def _allowed_image_type(content_type: str) -> bool:
    return content_type.startswith("image/") or content_type in ("", "application/octet-stream")


async def _read_body(request, limit: int, sink, slack: int = 0) -> None:
    """The request body, chunk by chunk, into ``sink``; 413 as soon as it passes ``limit`` bytes
    (plus ``slack`` for a form's headers and boundaries)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + slack:
        raise UploadError(413, f"upload too large: {int(length) / MB:.1f} MB, the limit is {limit / MB:g} MB")
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit + slack:
            raise UploadError(413, f"upload too large: over {limit / MB:g} MB")
        sink(chunk)


def _content_type(request) -> tuple[str, dict]:
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    ctype = ctype.decode("latin-1").lower()
    if ctype == "multipart/form-data" and not options.get(b"boundary"):
        raise UploadError(400, "multipart form without a boundary")
    return ctype, options


async def _read_form(request, options: dict, field: str, limit: int, most: int, body_limit: int) -> list[_Part]:
    form = _Form(options[b"boundary"], field, limit, most, body_limit)
    await _read_body(request, body_limit, form.write, MULTIPART_SLACK * most)
    form.parser.finalize()
    if not form.files:
        raise UploadError(400, f"no '{field}' field in the form")
    for part in form.files:
        part.data = bytes(part.data)  # once: checked, decoded and maybe saved from here on
        if not _allowed_image_type(part.content_type):
            raise UploadError(415, f"{part.name or 'the uploaded file'} has content type "
                                   f"{part.content_type!r}, not an image")
    return form.files


async def read_image_bytes(request, max_upload: int) -> bytes:
    """The uploaded image from a multipart form (field ``file``) or a raw ``image/*`` body,
    read chunk by chunk and refused as soon as it passes ``max_upload`` bytes."""
    ctype, options = _content_type(request)
    if ctype == "multipart/form-data":
        [part] = await _read_form(request, options, "file", max_upload, 1, max_upload)
        return part.data
    if not ctype.startswith("image/"):
        raise UploadError(415, f"unsupported content type {ctype or '(none)'!r}: send the image as the "
                               "multipart/form-data field 'file' or as the body with an image/* type")
    raw = bytearray()
    await _read_body(request, max_upload, raw.extend)
    return bytes(raw)


async def read_album(request, max_upload: int, max_album: int, max_photos: int) -> list[_Part]:
    """The photos of a multipart form's repeated field ``files``: at most ``max_photos``, each
    up to ``max_upload`` bytes and ``max_album`` in all, refused (413) as soon as one is passed."""
    ctype, options = _content_type(request)
    if ctype != "multipart/form-data":
        raise UploadError(415, f"unsupported content type {ctype or '(none)'!r}: send the photos as "
                               "multipart/form-data fields 'files'")
    return await _read_form(request, options, "files", max_upload, max_photos, max_album)


def _extension(data: bytes) -> str:
    for magic, ext in ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
                       (b"RIFF", ".webp"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif")):
        if data.startswith(magic):
            return ext
    return ".img"


# --------------------------------------------------------------------------- streams


@dataclasses.dataclass
class _Stream:
    tracker: FaceTracker
    seen: float  # time.monotonic() of its last frame
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class Streams:
    """The trackers of the video streams in progress, by key (stream id, model, upsample); one
    frame of a stream at a time. A stream is forgotten after ``idle`` seconds without a frame;
    past ``most`` streams, the one idle longest is."""

    def __init__(self, idle: float = STREAM_IDLE, most: int = MAX_STREAMS):
        self.idle, self.most = idle, most
        self.lock = threading.Lock()
        self.streams: collections.OrderedDict[tuple, _Stream] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self.streams)

    @contextlib.contextmanager
    def use(self, key: tuple, classifier: Classifier, upsample: int) -> Iterator[FaceTracker]:
        """The stream's tracker (a new one for a key not seen, or forgotten), held for one frame."""
        now = time.monotonic()
        with self.lock:
            for k in [k for k, s in self.streams.items() if now - s.seen > self.idle]:
                del self.streams[k]
            stream = self.streams.pop(key, None)
            if stream is None:  # the live predictor's tracker, with the server's classifier (warmed by create_app)
                stream = _Stream(FaceTracker(classifier, upsample=upsample, warm=False), now)
            stream.seen = now
            self.streams[key] = stream
            while len(self.streams) > self.most:
                self.streams.popitem(last=False)
        with stream.lock:
            yield stream.tracker


def track_frame(tracker: FaceTracker, image: np.ndarray, t: float, amplify: float | None) -> list[dict]:
    """One RGB frame through a stream's tracker -> faces as ``to_dict`` plus ``track`` (the face's
    index while in view) and ``amplified``. ``t`` is kept from going back in time."""
    t = t if tracker.last_t is None else max(t, tracker.last_t)
    tracker.amplify = amplify
    tracks = tracker.step(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), t)
    return [{**p.to_dict(), "track": tr.id, "amplified": tr.amplified}
            for tr, p in zip(tracks, tracker.predictions(image.shape))]


# --------------------------------------------------------------------------- the app


def _model_query():
    return Query(None, description="a name from /api/models; default: the first")


def _upsample_query():
    return Query(1, ge=min(UPSAMPLE), le=max(UPSAMPLE), description=(
        "face detection on the image doubled this many times: 1 (default, as `emojax.predict`) "
        "finds faces down to about 40 px; 0 (as `emojax.live`, the webcam page) is 3-4x faster "
        "and finds faces from about 80 px"))


class FaceOut(BaseModel):
    box: list[int]
    emotion: str
    probability: float
    probabilities: dict[str, float]
    track: int | None = None  # stream frames only: the face's index while it stays in view
    amplified: bool | None = None  # stream frames only: whether its expression was amplified


class PredictOut(BaseModel):
    model: str
    faces: list[FaceOut]
    width: int
    height: int
    time_ms: float


class PhotoOut(BaseModel):
    name: str  # the file name the client sent
    faces: list[FaceOut]
    width: int
    height: int


class AlbumOut(BaseModel):
    model: str
    photos: list[PhotoOut]
    faces: int
    people: int | None = None  # with amplify: people found by face among the photos
    amplified: int | None = None  # with amplify: faces made plainer (a person needs a few other faces)
    time_ms: float


class ErrorOut(BaseModel):
    error: str


def check_origins(origins: Sequence[str]) -> None:
    """Refuse what a browser never sends as its ``Origin`` (a path, a missing scheme), which
    would otherwise be allowed silently and match nothing."""
    for origin in origins:
        if origin != "*" and not ORIGIN.fullmatch(origin):
            raise EmojaxError(f"allowed origin {origin!r}: an origin is scheme://host[:port] with no path, "
                              "e.g. https://example.com (or * for any)")


def create_app(models: dict[str, str | Path] | None = None, max_upload: int = MAX_UPLOAD,
               max_pixels: float = MAX_PIXELS, upload_dir: str | Path | None = None,
               stream_idle: float = STREAM_IDLE, max_streams: int = MAX_STREAMS,
               max_album: int = MAX_ALBUM, max_photos: int = MAX_PHOTOS, allow_origins: Sequence[str] = ()):
    """The FastAPI app serving ``models`` (name -> what ``load_classifier`` takes: a CNN folder,
    a ``.joblib`` SVM, ``'svm'``; default :func:`default_models`); the first is the default.
    Models are loaded (and compiled) here, once. ``max_album`` bytes and ``max_photos`` bound
    one ``/api/album`` request; each photo in it is bound as one upload is. ``allow_origins``
    (``https://example.com``, or ``*`` for any) are the other sites whose pages may call the API
    from a browser (CORS); by default a browser lets only this server's own page read it."""

    models = default_models() if models is None else dict(models)
    if not models:
        raise EmojaxError("no model to serve")
    check_origins(allow_origins)
    predictors: dict[str, Predictor] = {}
    for name, model in models.items():
        p = Predictor(model)
        p.classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))  # compile now, not on the first request
        predictors[name] = p
    face.face_landmarks(np.zeros((48, 48), np.uint8), [(0, 0, 47, 47)])  # and load dlib's models
    predictors[next(iter(predictors))].predict(np.zeros((64, 64, 3), np.uint8))
    geometry.warm_up()  # for streams with amplify
    streams = Streams(stream_idle, max_streams)
    default = next(iter(predictors))
    pages = {name: (STATIC / name).read_bytes() for name in ("index.html", *STATIC_FILES)}
    upload_dir = Path(upload_dir) if upload_dir else None
    if upload_dir:
        upload_dir.mkdir(parents=True, exist_ok=True)
    busy = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))

    errors = {code: {"model": ErrorOut, "description": what} for code, what in (
        (400, "not a decodable image, a malformed form or an unknown model"),
        (413, "upload over the size limit, or an image with too many pixels"),
        (415, "neither a multipart form nor an image/* body"))}

    app = FastAPI(title="emojax", version="0.1.0",
                  description="Facial-expression recognition: dlib face alignment and a Flax CNN "
                              "(or the HOG+SVM baseline). The page at / uploads photos or webcam frames.")
    if allow_origins:  # no cookies or credentials: the API has none
        app.add_middleware(CORSMiddleware, allow_origins=list(allow_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"])

    @app.exception_handler(UploadError)
    async def _upload_error(request, exc: UploadError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal_error(request, exc: Exception):  # the traceback still goes to the log
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"error": f"invalid request: {where}: {first.get('msg', 'invalid')}"}, status_code=422)

    def _check_model(name: str) -> None:
        if name not in predictors:
            raise UploadError(400, f"unknown model {name!r}: choose one of {', '.join(predictors)}")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return HTMLResponse(pages["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in STATIC_FILES:  # a fixed list: the client's name never reaches the file system
            raise HTTPException(404, f"no static file {name!r}")
        return Response(pages[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/api/health")
    def health():
        return {"status": "ok", "models": list(predictors), "streams": len(streams)}

    @app.get("/api/models")
    def list_models():
        return {"default": default, "models": [
            {"name": n, "classes": list(p.classes), "kind": type(p.classifier).__name__}
            for n, p in predictors.items()]}

    # one Predictor per (model, upsample), sharing the loaded classifier
    variants = {(n, k): p if k == p.upsample else Predictor(p.classifier, upsample=k)
                for n, p in predictors.items() for k in UPSAMPLE}

    def save(data: bytes) -> None:
        if upload_dir:
            with atomic_path(upload_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}"
                                          f"{_extension(data)}") as tmp:
                tmp.write_bytes(data)

    def process(data: bytes, name: str, upsample: int, stream: str | None = None, t: float | None = None,
                amplify: float | None = None) -> dict:
        t0 = time.perf_counter()
        with busy:
            image = decode_image(data, max_pixels)
            if stream is None:
                faces = [f.to_dict() for f in variants[name, upsample].predict(image)]  # a detector per thread
        if stream is not None:  # the stream's turn first, then a slot: a frame waiting for its turn holds none
            with streams.use((stream, name, upsample), predictors[name].classifier, upsample) as tracker, busy:
                faces = track_frame(tracker, image, time.monotonic() if t is None else t, amplify)
        save(data)
        return {"model": name, "faces": faces, "width": int(image.shape[1]),
                "height": int(image.shape[0]), "time_ms": round(1000 * (time.perf_counter() - t0), 1)}

    @app.post("/api/predict", response_model=PredictOut, response_model_exclude_none=True, responses=errors,
              openapi_extra={"requestBody": {
        "required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
            "image/*": {"schema": {"type": "string", "format": "binary"}}}}})
    async def predict(request: Request, model: str | None = _model_query(), upsample: int = _upsample_query(),
            stream: str | None = Query(None, description=(
                "an id (1-64 letters, digits, - or _) the sender makes for one video stream: its frames "
                "are tracked and smoothed over time like `emojax.live`'s, and each face gets `track`, "
                "its index while in view")),
            t: float | None = Query(None, ge=0, le=1e10, description=(
                "with `stream`: the frame's time in seconds on the sender's clock (default: its arrival)")),
            amplify: float | None = Query(None, gt=0, le=10, description=(
                "with `stream`: each face's expression made this many times plainer against its own usual "
                "look once it has been followed a few seconds, like `emojax live --amplify K` (3 is a good "
                "value); `amplified` in each face says when"))):
        """Faces, their boxes and emotion probabilities in one image (multipart field ``file``,
        or the raw body with an image/* content type), or in one frame of a ``stream``."""
        name = model or default
        _check_model(name)
        if stream is not None and not STREAM_ID.fullmatch(stream):
            raise UploadError(400, "stream must be 1-64 letters, digits, '-' or '_'")
        if stream is None and (t is not None or amplify is not None):
            raise UploadError(400, "t and amplify go with stream=ID (frames of one video stream)")
        data = await read_image_bytes(request, max_upload)
        return await run_in_threadpool(process, data, name, upsample, stream, t, amplify)

    def process_album(parts: list[_Part], name: str, upsample: int, amplify: float | None,
                      tolerance: float | None) -> dict:
        t0 = time.perf_counter()
        names = [part.name or f"photo {i + 1}" for i, part in enumerate(parts)]

        def named(i: int, check):  # a bad photo fails the album, and the error says which
            try:
                return check(parts[i].data, max_pixels)
            except UploadError as e:
                raise UploadError(e.status, f"{names[i]}: {e}") from e

        sizes = [named(i, check_image) for i in range(len(parts))]  # every header before any decoding
        images = (named(i, decode_image) for i in range(len(parts)))  # one photo decoded at a time
        predictor = variants[name, upsample]
        with busy:  # one slot: an album is one request's work
            if amplify is None:
                per_photo = [predictor.predict(image) for image in images]
                counts = {"faces": sum(map(len, per_photo))}
            else:
                per_photo, counts = predictor.predict_amplified(images, amplify, tolerance)
        for part in parts:
            save(part.data)
        return {"model": name, **counts, "time_ms": round(1000 * (time.perf_counter() - t0), 1),
                "photos": [{"name": n, "width": w, "height": h, "faces": [f.to_dict() for f in faces]}
                           for n, (w, h), faces in zip(names, sizes, per_photo)]}

    @app.post("/api/album", response_model=AlbumOut, response_model_exclude_none=True, responses=errors,
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["files"], "properties": {
                      "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}})
    async def album(request: Request, model: str | None = _model_query(), upsample: int = _upsample_query(),
                    amplify: float | None = Query(None, gt=0, le=10, description=(
                        "each face's expression made this many times plainer against the same person's "
                        "other faces among the photos before it is classified, like `emojax predict album/ "
                        "--amplify K` (3 is a good value); who is who is found by dlib's face recognition")),
                    tolerance: float | None = Query(None, gt=0, le=2, description=(
                        "with `amplify`: two faces closer than this in dlib's face-descriptor space are one "
                        f"person (default {identity.TOLERANCE}; 0.6, dlib's own, for photos of one person)"))):
        """Several photos in one request (the multipart field ``files``, repeated): the faces of
        each, as ``/api/predict`` gives them; with ``amplify``, each face compared with the same
        person's other faces among them."""
        name = model or default
        _check_model(name)
        if tolerance is not None and amplify is None:
            raise UploadError(400, "tolerance says who is who for amplify: give amplify too")
        parts = await read_album(request, max_upload, max_album, max_photos)
        return await run_in_threadpool(process_album, parts, name, upsample, amplify, tolerance)

    return app


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL
    (``port=0``: a free port). For tests, benchmarks and screenshots."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# --------------------------------------------------------------------------- settings


def parse_models(specs: list[str] | None) -> dict[str, str] | None:
    """``--model`` values (``NAME=PATH`` or ``PATH``) -> {name: path}; ``None`` for the default."""
    if not specs:
        return None
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path = spec
            p = Path(spec.rstrip("/"))
            name = "svm" if spec == "svm" else (p.stem if p.suffix == ".joblib" else p.name) or "model"
        if not name or not path:
            raise EmojaxError(f"--model {spec!r}: use NAME=PATH or PATH")
        if name in out:
            raise EmojaxError(f"two models are called {name!r}: name them with --model NAME=PATH")
        out[name] = path
    return out


def app_from_env():
    """The app for each ``--workers`` process: its settings come in $EMOJAX_SERVE (JSON)."""
    return create_app(**json.loads(os.environ["EMOJAX_SERVE"]))


if __name__ == "__main__":  # python -m emojax.serve: the front door's 'emojax serve'
    from emojax.commands.serve import cli

    cli()
