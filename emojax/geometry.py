"""Face shape on 48x48 crops: dlib's 68 landmarks, normalised shapes, and warps that move them.

FER2013's crops are too small for dlib's detector, so each crop is upscaled 4x and the landmark
predictor is placed on one fixed box (the median HOG detection on FER2013 Training crops): every
crop, FER2013's and the photo pipeline's alike, is measured the same way.

What the warps are for (``posed``): FER2013's anger is a shouting face, its mouth open (the mean
angry Training face's mouth is 1.2 neutral standard deviations more open than the mean neutral
one), while a posed anger such as JAFFE's keeps the mouth closed and lowers and knits the brows
(Ekman's EMFACS prototype: AU4 + AU5/7 + AU23). Laying FER2013's own anger geometry on neutral
Training faces, brows and eyes only, makes faces with that posed anger and no shouting texture.

What ``amplified`` is for: the network reads FER2013's expressions mostly from texture and hardly
moves for a posed face's quieter geometry. Measured against the same person's other faces (so
that who they are drops out), each face's shape is pushed further from that person's average:
posed anger's lowered brows, fear's raised ones, become as plain as FER2013's. Its texture is
too: how its grey levels differ from the person's usual look in the same shape (furrows, a
wrinkled nose) is made ``texture`` times as strong.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator
from tqdm import tqdm

from emojax import face

SCALE, BORDER = 4, 48  # crops are upscaled 4x and framed by 48 px of repeated edge
BROWS_AND_EYES = np.r_[17:27, 36:48]  # dlib's 68-point indices: brows 17-26, eyes 36-47
WHOLE_FACE = np.arange(68)
SIZE = 48
MIN_OTHERS = 3  # a person's reference averages at least this many other faces: fewer are mostly one expression
TEXTURE = 2.0  # how much stronger ``amplified`` makes a face's texture against its person's usual look (JAFFE)
# The crop's corners and edge midpoints stay where they are, so a warp covers the whole crop.
FRAME = np.array([(x, y) for x in (0, 23.5, 47) for y in (0, 23.5, 47) if (x, y) != (23.5, 23.5)])
_GRID = np.stack(np.meshgrid(np.arange(SIZE, dtype=np.float64), np.arange(SIZE, dtype=np.float64)), -1).reshape(-1, 2)


def _upscaled(crop: np.ndarray) -> np.ndarray:
    big = cv2.resize(crop, (SIZE * SCALE, SIZE * SCALE), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)


def fixed_box(crops: np.ndarray) -> tuple[int, int, int, int]:
    """The median HOG face box on upscaled crops: one box for every crop of every set."""
    boxes = [b[0] for b in (face.face_locations(_upscaled(c), upsample=0) for c in crops) if len(b) == 1]
    return tuple(int(v) for v in np.median(np.array(boxes), 0))


def crop_landmarks(crops: np.ndarray, box: tuple[int, int, int, int], desc: str = "landmarks",
                   progress: bool = True) -> np.ndarray:
    """(N, 68, 2) landmarks in the 48x48 crops' pixel coordinates, found on the upscaled crops."""
    pts = np.stack([face.face_landmarks(_upscaled(c), [box])[0]
                    for c in tqdm(crops, desc=desc, leave=False, disable=not progress)])
    return (pts - BORDER + 0.5) / SCALE - 0.5


def eye_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For (N, 68, 2) landmarks: the eyes' midpoint (N, 2), their distance (N,) and angle (N,)."""
    left, right = points[:, 36:42].mean(1), points[:, 42:48].mean(1)
    v = right - left
    return (left + right) / 2, np.linalg.norm(v, axis=1), np.arctan2(v[:, 1], v[:, 0])


def normalised(points: np.ndarray) -> np.ndarray:
    """(N, 68, 2) landmarks with the eyes' midpoint at the origin, the eyes level and one unit apart."""
    centre, dist, angle = eye_frame(points)
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    q = points - centre[:, None]
    return np.stack([c * q[..., 0] + s * q[..., 1], -s * q[..., 0] + c * q[..., 1]], -1) / dist[:, None, None]


def expression_shift(points: np.ndarray, labels: np.ndarray, label: int, neutral: int,
                     region: np.ndarray = BROWS_AND_EYES) -> np.ndarray:
    """(68, 2): how the mean normalised shape of class ``label`` differs from the neutral one,
    in eye distances, on the ``region`` points only (zero elsewhere)."""
    n = normalised(points)
    d = n[labels == label].mean(0) - n[labels == neutral].mean(0)
    out = np.zeros_like(d)
    out[region] = d[region]
    return out


def warp(crop: np.ndarray, points: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """``crop`` warped piecewise-affinely so that its ``points`` land on ``moved`` (the crop's
    frame fixed). A linear interpolation over the triangles and one ``cv2.remap``: the same image
    as scikit-image's ``PiecewiseAffineTransform``, about 100x faster."""
    where_from = LinearNDInterpolator(np.concatenate([moved, FRAME]), np.concatenate([points, FRAME]))(_GRID)
    where_from = np.where(np.isnan(where_from), _GRID, where_from).astype(np.float32).reshape(SIZE, SIZE, 2)
    return cv2.remap(crop, where_from[..., 0], where_from[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warm_up() -> None:
    """One small warp, so that scipy's first triangulation (about a second: it loads its linear
    algebra) is not paid by the first live frame that needs one."""
    points = np.random.default_rng(0).uniform(8, 40, (68, 2))
    warp(np.zeros((SIZE, SIZE), np.uint8), points, points + 0.5)


def shifted(points: np.ndarray, shift: np.ndarray, strength: float) -> np.ndarray:
    """One face's (68, 2) landmarks moved by a normalised ``shift`` times ``strength``, turned
    and scaled into the face's own eye frame."""
    _, dist, angle = eye_frame(points[None])
    c, s = np.cos(angle[0]), np.sin(angle[0])
    d = shift * strength * dist[0]
    return points + np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], -1)


def pose(crops: np.ndarray, points: np.ndarray, shift: np.ndarray, strengths: np.ndarray,
         desc: str = "posed faces", progress: bool = True) -> np.ndarray:
    """Each crop warped so that its landmarks move by a normalised ``shift`` times its strength."""
    return np.array([warp(c, q, shifted(q, shift, st))
                     for c, q, st in zip(tqdm(crops, desc=desc, leave=False, disable=not progress), points, strengths)],
                    np.uint8).reshape(-1, SIZE, SIZE)


def posed(images: np.ndarray, labels: np.ndarray, classes, expressions, share: float,
          strength: tuple[float, float], seed: int = 0, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Posed expressions made from neutral faces: for each of ``expressions``, a ``share`` of
    the neutral faces of ``images`` (drawn at random) warped so that their brows and eyes move
    as that class's mean shape differs from neutral's, times a strength drawn from ``strength``,
    the mouth kept. Returns the new faces and their labels; deterministic for a seed."""
    classes = list(classes)
    neutral = classes.index("neutral")
    wanted = [classes.index(e) for e in expressions]
    keep = np.isin(labels, wanted + [neutral])
    faces_in, lab = images[keep], labels[keep]
    pts = crop_landmarks(faces_in, fixed_box(images[:800]), "landmarks for posed faces", progress)
    rng = np.random.default_rng(seed)
    neutral_idx = np.flatnonzero(lab == neutral)
    faces, out_labels = [np.zeros((0, SIZE, SIZE), np.uint8)], []
    for k in wanted:
        chosen = rng.choice(neutral_idx, size=int(round(share * len(neutral_idx))), replace=False)
        strengths = rng.uniform(*strength, size=len(chosen))
        faces.append(pose(faces_in[chosen], pts[chosen], expression_shift(pts, lab, k, neutral), strengths,
                          f"posed {classes[k]}", progress))
        out_labels += [k] * len(chosen)
    return np.concatenate(faces), np.array(out_labels, np.int32)


def _people(people) -> list[np.ndarray]:
    """The indices of each person's faces (any key: a name, a number), for people with more
    than ``MIN_OTHERS`` faces (the rest, and faces with no key, "" or None, have no reference)."""
    people = np.asarray(["" if p is None else p for p in people], dtype=object)
    groups = [np.flatnonzero(people == who) for who in sorted(set(people) - {""})]
    return [idx for idx in groups if len(idx) - 1 >= MIN_OTHERS]


def own_references(points: np.ndarray, people) -> np.ndarray:
    """(N, 68, 2) normalised shapes: for each face, the mean shape of the same person's *other*
    faces (who they are, without this expression), NaN where the person is unknown ("" or None)
    or has fewer than ``MIN_OTHERS`` other faces."""
    n = normalised(points)
    out = np.full_like(n, np.nan)
    for idx in _people(people):
        out[idx] = (n[idx].sum(0) - n[idx]) / (len(idx) - 1)
    return out


def own_looks(crops: np.ndarray, points: np.ndarray, people) -> np.ndarray:
    """(N, 48, 48) float: for each face, the mean of the same person's *other* crops, each warped
    into this face's shape: their usual look, wearing this face's expression's shape. NaN where
    :func:`own_references` has none. Through the person's mean shape, so 2N warps, not N squared."""
    out = np.full(crops.shape, np.nan)
    for idx in _people(people):
        mean_shape = points[idx].mean(0)
        into = np.array([warp(crops[i], points[i], mean_shape) for i in idx], np.float32)
        total = into.sum(0)
        for k, i in enumerate(idx):
            out[i] = warp((total - into[k]) / (len(idx) - 1), mean_shape, points[i])
    return out


def amplified(crops: np.ndarray, points: np.ndarray, references: np.ndarray, strength: float = 3.0,
              region: np.ndarray = WHOLE_FACE, looks: np.ndarray | None = None, texture: float = TEXTURE,
              progress: bool = False) -> np.ndarray:
    """Each crop warped so that its normalised shape (the ``region`` points; the rest stay)
    lies ``strength`` times as far from its reference (:func:`own_references`) as it does: an
    expression stays that expression, only plainer; a face like its reference hardly moves.
    With ``looks`` (:func:`own_looks`), first its grey levels are moved ``texture`` times as far
    from them. Faces with a NaN reference are kept as they are."""
    moves = np.zeros_like(points, dtype=np.float64)
    moves[:, region] = (normalised(points) - references)[:, region]
    out = np.array(crops, np.uint8, copy=True)
    for i in tqdm(np.flatnonzero(~np.isnan(moves).any((1, 2))), desc="amplified faces", leave=False,
                  disable=not progress):
        crop = crops[i]
        if looks is not None and not np.isnan(looks[i]).any():
            crop = np.clip(np.rint(crop + (texture - 1) * (crop - looks[i])), 0, 255).astype(np.uint8)
        out[i] = warp(crop, points[i], shifted(points[i], moves[i], strength - 1))
    return out


def amplified_by_person(crops: np.ndarray, points: np.ndarray, people, strength: float = 3.0,
                        region: np.ndarray = WHOLE_FACE, texture: float = TEXTURE) -> tuple[np.ndarray, np.ndarray]:
    """:func:`amplified` against each face's own person (``people``: one key per face, "" or
    None for unknown): the mean shape of their other faces and, unless ``texture`` is 1, their
    usual look. Returns the crops and which of them changed: a face of an unknown person, or of
    one with fewer than ``MIN_OTHERS`` other faces, stays as it is."""
    references = own_references(points, people)
    looks = own_looks(crops, points, people) if texture != 1 else None
    return amplified(crops, points, references, strength, region, looks, texture), ~np.isnan(references).any((1, 2))
