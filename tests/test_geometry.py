"""Face shape on 48x48 crops (``emojax.geometry``), on real FER2013 rows through real dlib."""
import dataclasses

import numpy as np
import pytest

from emojax import geometry, train
from emojax.io import EmojaxError


def test_landmark_geometry_is_normalised_and_mirrors(small_fer):
    """Real FER2013 crops through dlib's landmark predictor: the eyes land at (-0.5, 0) and
    (0.5, 0) whatever the crop's pose, and a mirrored crop gives the mirrored shape (the
    x axis flips), so the features measure the face, not where it sits in the crop."""
    crops = small_fer.train.images[:40]
    box = geometry.fixed_box(crops)
    g = geometry.normalised(geometry.crop_landmarks(crops, box, progress=False))
    eyes = np.stack([g[:, 36:42].mean(1), g[:, 42:48].mean(1)], 1)
    np.testing.assert_allclose(eyes, np.broadcast_to([[-0.5, 0.0], [0.5, 0.0]], eyes.shape), atol=1e-6)
    mirrored = geometry.normalised(geometry.crop_landmarks(crops[:, :, ::-1].copy(), box, progress=False))
    chin_tip, nose_tip = 8, 33  # on the face's axis: their x flips sign in the mirror
    for k in (chin_tip, nose_tip):
        assert np.median(np.abs(mirrored[:, k, 0] + g[:, k, 0])) < 0.1
        assert np.median(np.abs(mirrored[:, k, 1] - g[:, k, 1])) < 0.1


def test_posed_anger_moves_brows_not_the_mouth(small_fer):
    """Neutral FER2013 faces warped into posed anger: measured again by dlib, their inner brows
    sit lower and closer together than the neutral faces' (FER2013's angry brows, stronger),
    their mouths as open as before; labelled angry, as many as the share asks, the same for a
    seed. ``Config.posed`` appends exactly these faces to the training split."""
    ds = small_fer
    classes = list(ds.classes)
    neutral = ds.train.labels == classes.index("neutral")
    faces, labels = geometry.posed(ds.train.images, ds.train.labels, classes, ("angry",), 0.2, (1.5, 3.5),
                                   progress=False)
    assert len(faces) == round(0.2 * neutral.sum()) > 40 and faces.dtype == np.uint8
    assert (labels == classes.index("angry")).all()

    box = geometry.fixed_box(ds.train.images[:800])
    before = geometry.normalised(geometry.crop_landmarks(ds.train.images[neutral], box, progress=False))
    after = geometry.normalised(geometry.crop_landmarks(faces, box, progress=False))
    from experiments.expression_shapes import MEASURES

    inner_brow_y, brow_gap = MEASURES["inner brows, height (down +)"], MEASURES["gap between the brows"]
    mouth_open = MEASURES["mouth opening"]
    sd = lambda f: f(before).std()
    assert (inner_brow_y(after).mean() - inner_brow_y(before).mean()) / sd(inner_brow_y) > 0.5  # y grows downwards
    assert (brow_gap(before).mean() - brow_gap(after).mean()) / sd(brow_gap) > 0.3
    assert abs(mouth_open(after).mean() - mouth_open(before).mean()) / sd(mouth_open) < 0.3

    cfg = train.Config(model="small", model_kwargs={"width": 4}, posed=("angry",), posed_share=0.2)
    split, *_ = train.training_data(cfg, ds, progress=False)
    np.testing.assert_array_equal(split.images, np.concatenate([ds.train.images, faces]))
    np.testing.assert_array_equal(split.labels, np.concatenate([ds.train.labels, labels]))
    for bad, why in (({"posed": ("neutral",)}, "other than neutral"), ({"posed": ("joy",)}, "joy"),
                     ({"posed_share": 0.0}, "share"), ({"teacher": ("results/model",), "distill": 0.5}, "teachers")):
        with pytest.raises(EmojaxError, match=why):
            train.training_data(dataclasses.replace(cfg, **bad), ds, progress=False)


def test_expression_shifts_are_per_person():
    """Two people whose measures differ by a constant: against each one's own neutral, the
    class's shift is what the expression adds, not who posed it; pooled, it is not."""
    from experiments.expression_shapes import shifts

    classes = ["angry", "neutral"]
    people = np.array(["a", "a", "b", "b", "b"])
    labels = np.array([0, 1, 0, 1, 1])
    values = np.array([1.0, 0.0, 11.0, 10.0, 10.0])  # b sits 10 above a; anger adds 1 to each
    assert shifts(values, labels, classes, people) == {"angry": 1.0}
    assert shifts(values, labels, classes)["angry"] == pytest.approx(6.0 - 20.0 / 3)


def test_own_references_average_each_persons_other_faces():
    """A face's reference is the mean normalised shape of the same person's *other* faces;
    faces of an unknown person, or of one with too few other faces, get none (NaN)."""
    rng = np.random.default_rng(0)
    points = rng.normal(0, 3, (9, 68, 2)) + np.linspace(0, 40, 68)[None, :, None]
    people = ["a"] * 5 + ["b"] * geometry.MIN_OTHERS + [""]
    refs = geometry.own_references(points, people)
    n = geometry.normalised(points)
    for i in range(5):
        np.testing.assert_allclose(refs[i], n[[j for j in range(5) if j != i]].mean(0))
    assert np.isnan(refs[5:]).all()  # "b" has one face too few; "" is nobody in particular


def test_own_looks_average_each_persons_other_crops():
    """Where a person's faces share one shape the warps change nothing, so each face's look is
    the plain mean of the person's *other* crops; unknown people get none (NaN)."""
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (7, 48, 48)).astype(np.uint8)
    points = np.tile(rng.uniform(8, 40, (1, 68, 2)), (7, 1, 1))
    looks = geometry.own_looks(crops, points, ["a"] * 5 + ["", ""])
    for i in range(5):
        np.testing.assert_allclose(looks[i], crops[[j for j in range(5) if j != i]].mean(0), atol=1e-3)
    assert np.isnan(looks[5:]).all()
