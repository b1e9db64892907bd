"""Find faces in photos and video frames and cut them out framed like FER2013 images.

The emotion models are trained on FER2013: 48x48 grey crops in which the eyes sit at
roughly fixed positions. A face from a camera only looks like that training data if it is
cut out the same way, so this module detects faces (dlib's HOG detector), finds 68
landmarks (dlib's shape predictor, shipped by ``face_recognition_models``) and warps each
face so that its eye centres land on :data:`LEFT_EYE` and :data:`RIGHT_EYE`.

Images are numpy arrays. Colour images are RGB (pass ``bgr=True`` to :func:`to_gray` for
OpenCV frames); any dtype/channel layout that :func:`to_gray` accepts works everywhere.
Points are ``(x, y)`` in pixels, pixel centres at integer coordinates (as dlib reports them).
"""
from __future__ import annotations

import functools
import math
import io
import os
import struct
import threading
from dataclasses import dataclass

import cv2
import dlib
import numpy as np

from emojax.io import EmojaxError, dlib_model_file

# Eye centres (image-left eye, image-right eye) in 48x48 pixel coordinates: the medians over
# the 250 of the first 300 FER2013 PublicTest faces that dlib detects, heights averaged so the
# eyes are level, measured with the same detector and landmark predictor by
#   python experiments/fer_eye_positions.py --rows 300
# (medians (14.62, 18.44) and (32.58, 18.27), IQR about 2.5 px; PrivateTest agrees within 0.2 px).
LEFT_EYE = (14.6, 18.4)
RIGHT_EYE = (32.6, 18.4)

MAX_PIXELS = 50_000_000  # larger images are refused from their header, before decoding

Box = tuple[int, int, int, int]  # (left, top, right, bottom); image[top:bottom, left:right] is the face


@dataclass
class Face:
    """One detected face: where it is, its 68 landmarks and its aligned grey crop."""

    box: Box
    landmarks: np.ndarray  # (68, 2) float, full-image coordinates
    crop: np.ndarray  # (48, 48) uint8, eyes at LEFT_EYE/RIGHT_EYE


DETECTORS = ("hog", "cnn")


# dlib's detectors keep scratch buffers: one shared by two threads corrupts the heap
# (a web server's worker pool crashed on it). So each thread builds its own, once.
_local = threading.local()


def per_thread(name: str, make):
    obj = getattr(_local, name, None)
    if obj is None:
        obj = make()
        setattr(_local, name, obj)
    return obj


def _detector() -> dlib.fhog_object_detector:
    return per_thread("hog", dlib.get_frontal_face_detector)


def _cnn_detector() -> dlib.cnn_face_detection_model_v1:
    return per_thread("cnn", lambda: dlib.cnn_face_detection_model_v1(
        str(dlib_model_file("mmod_human_face_detector.dat"))))


@functools.lru_cache(maxsize=None)
def _predictor() -> dlib.shape_predictor:
    # Shared: fitting landmarks only reads the model (and loading it takes 100 MB a copy).
    return dlib.shape_predictor(str(dlib_model_file("shape_predictor_68_face_landmarks.dat")))


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF, BMP or WebP file (other formats
    through Pillow's lazy open when it is installed), without decoding any pixel; ``None``
    when the header cannot be read. GIF: the largest of the screen and the first frame."""
    try:
        return _header_size(data)
    except (struct.error, IndexError, ValueError):
        return None


def _header_size(d: bytes) -> tuple[int, int] | None:
    if d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR":
        return struct.unpack(">II", d[16:24])
    if d[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 4 <= len(d):
            if d[i] != 0xFF:
                return None
            marker = d[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD8)):  # no length
                i += 2
                continue
            (length,) = struct.unpack(">H", d[i + 2:i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                h, w = struct.unpack(">HH", d[i + 5:i + 9])
                return w, h
            if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
                return None
            i += 2 + length
        return None
    if d[:6] in (b"GIF87a", b"GIF89a"):
        w, h, flags = struct.unpack("<HHB", d[6:11])
        i = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
        while i < len(d):
            if d[i] == 0x21:  # extension: label, then sub-blocks
                i += 2
                while d[i]:
                    i += d[i] + 1
                i += 1
            elif d[i] == 0x2C:  # first image descriptor
                left, top, fw, fh = struct.unpack("<HHHH", d[i + 1:i + 9])
                return max(w, left + fw), max(h, top + fh)
            else:
                break
        return w, h
    if d[:2] == b"BM":
        (header,) = struct.unpack("<I", d[14:18])
        if header == 12:
            return struct.unpack("<HH", d[18:22])
        w, h = struct.unpack("<ii", d[18:26])
        return abs(w), abs(h)
    if d[:4] == b"RIFF" and d[8:12] == b"WEBP":
        chunk = d[12:16]
        if chunk == b"VP8 " and d[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", d[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and d[20] == 0x2F:
            (bits,) = struct.unpack("<I", d[21:25])
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return (int.from_bytes(d[24:27], "little") + 1, int.from_bytes(d[27:30], "little") + 1)
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(d)) as im:  # lazy: reads the header only
            return im.size
    except Image.DecompressionBombError:
        return (1 << 31) - 1, 1  # more pixels than Pillow allows: certainly too many
    except Exception:
        return None


def load_image(path: str | os.PathLike, max_pixels: float = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), whatever its format, depth or channels.

    Decoding with IMREAD_COLOR applies the EXIF orientation (phone photos come out upright,
    which the frontal detector needs), reduces 16-bit files to 8 bits, expands grey to three
    channels and drops alpha. The pixel count is read from the header first: an image over
    ``max_pixels`` (a decompression bomb, a 20000x20000 scan) is refused in milliseconds,
    before any pixel is allocated. Bad files raise :class:`EmojaxError` with a one-line message.
    """
    if not os.path.isfile(path):
        raise EmojaxError(f"no such image file: {path}")
    if os.path.getsize(path) == 0:
        raise EmojaxError(f"image file is empty (0 bytes): {path}")
    data = np.fromfile(path, np.uint8)
    size = image_size(data[:1 << 20].tobytes())
    if size is not None and size[0] * size[1] > max_pixels:
        raise EmojaxError(f"image too large: {size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} megapixels "
                          f"(the limit is {max_pixels / 1e6:g}): {path}")
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except (OSError, cv2.error) as e:
        raise EmojaxError(f"cannot read image file {path}: {e}") from e
    if bgr is None:
        raise EmojaxError(f"cannot decode image file (corrupt or unsupported format): {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_gray(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Convert any image to contiguous uint8 grey (H, W), the one format dlib and the models use.

    Accepts grey (H, W) or (H, W, 1), RGB or RGBA (BGR/BGRA with ``bgr=True``), as uint8,
    uint16 or float in [0, 1]. Alpha is ignored.
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype == np.uint16:
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype.kind == "f":
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ValueError(f"unsupported image dtype {a.dtype} (use uint8, uint16 or float in [0, 1])")
    a = np.ascontiguousarray(a)
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[2] in (3, 4):
        codes = {(3, False): cv2.COLOR_RGB2GRAY, (3, True): cv2.COLOR_BGR2GRAY,
                 (4, False): cv2.COLOR_RGBA2GRAY, (4, True): cv2.COLOR_BGRA2GRAY}
        return cv2.cvtColor(a, codes[a.shape[2], bgr])
    raise ValueError(f"unsupported image shape {a.shape} (use (H, W), (H, W, 1), (H, W, 3) or (H, W, 4))")


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 where they do not meet)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _run_detector(gray: np.ndarray, upsample: int, detector: str) -> list[dlib.rectangle]:
    if detector == "hog":
        found = list(_detector()(gray, upsample))
        if upsample > 0:
            # HOG scans a pyramid of scales 2**upsample x (5/6)**n; the pyramid of one doubling
            # less samples the scales in between, and a face's score moves with the scale sampled:
            # group_selfie.jpg's man in the cap scores just under threshold at upsample 1 and is
            # found at 0. The second pass costs about a quarter of the first.
            # A face found in both (overlap over a third of the union) is kept once.
            boxes = [_box(f, gray.shape) for f in found]
            found += [r for r in _detector()(gray, upsample - 1)
                      if all(iou(_box(r, gray.shape), b) <= 1 / 3 for b in boxes)]
        return found
    if detector == "cnn":  # dlib's MMOD CNN: finds turned and partly hidden faces, ~100x slower on CPU
        return [d.rect for d in _cnn_detector()(gray, upsample)]
    raise EmojaxError(f"unknown face detector {detector!r}: choose one of {', '.join(DETECTORS)}")


def _detect(gray: np.ndarray, upsample: int, detect_width: int | None = None,
            detector: str = "hog") -> list[dlib.rectangle]:
    """Detections, optionally run on a copy shrunk to ``detect_width`` and scaled back."""
    h, w = gray.shape
    if detect_width is None or detect_width >= w:
        return _run_detector(gray, upsample, detector)
    s = w / detect_width
    small = cv2.resize(gray, (detect_width, max(1, round(h / s))), interpolation=cv2.INTER_AREA)
    return [dlib.rectangle(round(r.left() * s), round(r.top() * s), round(r.right() * s), round(r.bottom() * s))
            for r in _run_detector(small, upsample, detector)]


def _box(r: dlib.rectangle, shape: tuple[int, ...]) -> Box:
    h, w = shape[:2]
    return max(r.left(), 0), max(r.top(), 0), min(r.right() + 1, w), min(r.bottom() + 1, h)


def _landmarks(gray: np.ndarray, r: dlib.rectangle) -> np.ndarray:
    return np.array([(p.x, p.y) for p in _predictor()(gray, r).parts()], dtype=np.float64)


def face_locations(image: np.ndarray, upsample: int = 1) -> list[Box]:
    """Boxes (left, top, right, bottom) of the frontal faces, clipped to the image.

    Each ``upsample`` doubles the image before detection: about 4x slower, but halves the
    smallest face found (about 55 px wide at ``upsample=0``). From 1 up, the image one doubling
    smaller is scanned too (a quarter more time), for faces that score just under the
    detector's threshold at the scales of one pyramid.
    """
    gray = to_gray(image)
    return [_box(r, gray.shape) for r in _detect(gray, upsample)]


def face_landmarks(image: np.ndarray, boxes: list[Box] | None = None) -> list[np.ndarray]:
    """The 68 iBUG landmarks, a (68, 2) float array per face (found with ``upsample=1`` if ``boxes`` is None)."""
    gray = to_gray(image)
    rects = _detect(gray, 1) if boxes is None else [dlib.rectangle(l, t, r - 1, b - 1) for l, t, r, b in boxes]
    return [_landmarks(gray, r) for r in rects]


def _target(eye: tuple[float, float], size: int) -> complex:
    """An eye target moved from 48x48 coordinates to ``size`` x ``size`` ones (same framing)."""
    k = size / 48
    return complex((eye[0] + 0.5) * k - 0.5, (eye[1] + 0.5) * k - 0.5)


def _similarity(landmarks: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """The 2x3 matrix taking the eye centres to their targets, and its scale factor."""
    src_l, src_r = (complex(*landmarks[i:i + 6].mean(axis=0)) for i in (36, 42))
    dst_l, dst_r = _target(LEFT_EYE, size), _target(RIGHT_EYE, size)
    a = (dst_r - dst_l) / (src_r - src_l)  # rotation and scale as one complex number: z -> a z + b
    b = dst_l - a * src_l
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]]), abs(a)


def align(image: np.ndarray, landmarks: np.ndarray, size: int = 48) -> np.ndarray:
    """Cut out a ``size`` x ``size`` uint8 grey face with level eyes on the FER2013 eye positions.

    A similarity transform (rotation, uniform scale, translation) keeps the face's proportions.
    warpAffine only interpolates, so a face that has to shrink is warped to k times ``size``
    (k the smallest integer that avoids shrinking) and then area-averaged down by k, which
    avoids aliasing; the eye targets stay exact in both steps.
    """
    gray = to_gray(image)
    _, scale = _similarity(landmarks, size)
    k = max(1, math.ceil(1 / scale))
    m, _ = _similarity(landmarks, size * k)
    crop = cv2.warpAffine(gray, m, (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop if k == 1 else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def aligned_landmarks(landmarks: np.ndarray, size: int = 48) -> np.ndarray:
    """The (68, 2) full-image ``landmarks`` in the pixel coordinates of the crop :func:`align`
    cuts from them: the face's shape at full resolution, where the crop's pixels are."""
    m, _ = _similarity(landmarks, size)
    return landmarks @ m[:, :2].T + m[:, 2]


def largest(faces):
    """The one with the largest ``box`` among ``faces`` (anything with a :data:`Box` ``box``:
    faces, tracks, predictions), None if there are none: "the face" of a photo."""
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)


def detect_faces(image: np.ndarray, upsample: int = 1, detect_width: int | None = None,
                 detector: str = "hog") -> list[Face]:
    """Detect, landmark and align every face, ordered left to right so indices are stable.

    ``detect_width`` runs only the (slow) detector on a copy shrunk to that width, for live
    video; landmarks and crops still use the full-resolution image. ``detector`` is ``hog``
    (dlib's HOG, the fast default) or ``cnn`` (dlib's MMOD CNN, for photos where HOG misses
    faces that are turned or partly hidden).
    """
    gray = to_gray(image)
    faces = []
    for r in _detect(gray, upsample, detect_width, detector):
        lm = _landmarks(gray, r)
        faces.append(Face(_box(r, gray.shape), lm, align(gray, lm)))
    return sorted(faces, key=lambda f: f.box[0])
