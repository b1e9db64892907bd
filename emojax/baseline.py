"""HOG + kernel SVM: the classical baseline the CNN is compared with.

    model = HogSVM().fit(train.images, train.labels)
    model.calibrate(val.images, val.labels)        # softmax temperature, on PublicTest
    model.save("results/svm/svm.joblib")

The pipeline is a plain scikit-learn ``Pipeline`` over flattened 48x48 crops:

1. :class:`HogFeatures`: HOG at two cell sizes, 6 px (eye and mouth detail) and 12 px
   (face layout), 2x2-cell blocks, 9 orientations, L2-Hys, joined with the crop shrunk to
   24x24 (+1 point on PublicTest). The HOG is computed for a whole batch at once in numpy;
   equal to ``skimage.feature.hog`` (tested) but about 10x faster, since skimage works one
   image at a time (``benchmarks/bench_hog.py``). OpenCV 5 no longer ships
   ``cv2.HOGDescriptor`` (it moved to opencv_contrib), so it is not an option here.
2. ``StandardScaler`` -> ``PCA`` (not whitened): the 2,664 features are strongly
   correlated; 150 components did as well as 250-300 on PublicTest and keep the kernel cheap.
3. ``Nystroem`` (RBF kernel, 2,000 landmarks) -> ``LinearSVC``: an approximate RBF SVM,
   about 5 points better than a linear one on PublicTest. It trains in minutes, where an
   exact ``SVC``'s time grows with the square of the 28k faces and its model keeps every
   support vector. After fitting, Nystroem's 2000x2000 normalisation is folded into the SVM
   weights (:meth:`HogSVM.fit`), so the saved model holds only the landmarks.

Probabilities are ``softmax(decision_function / T)`` with one temperature ``T`` fitted on
held-out data (PublicTest) by :meth:`HogSVM.calibrate`. ``CalibratedClassifierCV`` would
refit the SVM once per fold (3-5x the training time) for little gain; one temperature
keeps the SVM's ranking (``predict`` is unchanged) and fits the confidences to held-out data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC

from emojax.io import EmojaxError, atomic_path
from emojax.data import FER_CLASSES, IMAGE_SIZE


def hog(images: np.ndarray, cell: int = 8, block: int = 2, orientations: int = 9) -> np.ndarray:
    """HOG of a batch of gray images (N, H, W) -> (N, features) float32.

    Same definition as ``skimage.feature.hog(image, orientations, (cell, cell),
    (block, block), block_norm='L2-Hys')``: central-difference gradients, unsigned
    orientations hard-binned, cell means, blocks L2-normalised, clipped at 0.2, renormalised.
    """
    x = np.asarray(images, np.float32)
    n, h, w = x.shape
    ch, cw = h // cell, w // cell
    x = x[:, :ch * cell + 1, :cw * cell + 1]  # skimage ignores pixels beyond the last whole cell
    gr = np.zeros_like(x)
    gr[:, 1:-1] = x[:, 2:] - x[:, :-2]
    gc = np.zeros_like(x)
    gc[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    gr, gc = gr[:, :ch * cell, :cw * cell], gc[:, :ch * cell, :cw * cell]
    angle = np.arctan2(gr, gc)
    angle[angle < 0] += np.float32(np.pi)
    bins = (angle * np.float32(orientations / np.pi)).astype(np.int32)
    bins[bins == orientations] = 0  # 180 degrees is 0 degrees
    cell_of = (np.arange(ch * cell)[:, None] // cell * cw + np.arange(cw * cell) // cell) * orientations
    idx = np.arange(n)[:, None, None] * (ch * cw * orientations) + cell_of + bins
    hist = np.bincount(idx.ravel(), np.sqrt(gr * gr + gc * gc).ravel(), n * ch * cw * orientations)
    hist = hist.reshape(n, ch, cw, orientations).astype(np.float32) / cell ** 2
    blocks = sliding_window_view(hist, (block, block), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    blocks = blocks.reshape(n, -1, block * block * orientations)
    # 1e-10: skimage's eps of 1e-5, squared
    blocks = np.minimum(blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + 1e-10), 0.2)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + 1e-10)
    return blocks.reshape(n, -1)


def pixels(images: np.ndarray, side: int = 24) -> np.ndarray:
    """The crops shrunk to side x side (block means) with each image's mean and contrast
    removed: coarse appearance (mouth open, brows) that HOG's per-block normalisation drops."""
    n, h = images.shape[:2]
    f = h // side
    x = np.asarray(images, np.float32)[:, :side * f, :side * f].reshape(n, side, f, side, f).mean((2, 4))
    x = x.reshape(n, -1)
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1)


class HogFeatures(TransformerMixin, BaseEstimator):
    """Pipeline step: flattened 48x48 crops (N, 2304) -> HOG at each cell size and the
    shrunk pixels (side ``pixels``; 0 for none), joined, as float64."""

    def __init__(self, cells: tuple[int, ...] = (6, 12), pixels: int = 24, chunk: int = 512):
        self.cells = cells
        self.pixels = pixels
        self.chunk = chunk  # images per numpy pass: bounds memory, stays in cache

    def fit(self, X, y=None) -> HogFeatures:
        return self

    def transform(self, X) -> np.ndarray:
        images = np.asarray(X).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        return np.concatenate([self._features(images[i:i + self.chunk])
                               for i in range(0, max(len(images), 1), self.chunk)])

    def _features(self, images: np.ndarray) -> np.ndarray:
        parts = [hog(images, c) for c in self.cells] + ([pixels(images, self.pixels)] if self.pixels else [])
        # float64 from here on: Nystroem inverts the landmarks' kernel matrix, and float32
        # rounding in it is amplified into SVM weights of 1e6 and scores that change with
        # the batch size.
        return np.hstack(parts).astype(np.float64)


def make_pipeline(C: float = 1.0, gamma: float = 6e-4, pca: int = 150, landmarks: int = 2000,
                  cells: tuple[int, ...] = (6, 12), pixels: int = 24, seed: int = 0,
                  memory=None) -> Pipeline:
    """The unfitted pipeline; ``memory`` (a joblib cache) lets a grid search reuse the
    fitted HOG/scaler/PCA/Nystroem steps across settings that only change later steps."""
    return Pipeline([("features", HogFeatures(cells, pixels)), ("scale", StandardScaler()),
                     ("pca", PCA(pca, random_state=seed)),
                     ("rbf", Nystroem(gamma=gamma, n_components=landmarks, random_state=seed)),
                     ("svm", LinearSVC(C=C, random_state=seed))], memory=memory)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class HogSVM:
    """HOG + approximate RBF SVM with the shared classifier interface of
    :mod:`emojax.predict`: ``classes``, ``predict_proba(crops)``, ``predict(crops)``."""

    def __init__(self, classes: tuple[str, ...] = FER_CLASSES, **params):
        self.classes = tuple(classes)
        self.params = params  # make_pipeline keyword arguments
        self.pipeline: Pipeline | None = None
        self.temperature = 1.0  # until calibrate(): plain softmax of the SVM scores

    def fit(self, images: np.ndarray, labels: np.ndarray, memory=None) -> HogSVM:
        """Fit on uint8 crops (N, 48, 48) and int labels. ``memory``: a joblib cache of
        fitted steps (see :func:`make_pipeline`), used while fitting only."""
        missing = sorted(set(range(len(self.classes))) - set(np.unique(labels).tolist()))
        if missing:
            raise EmojaxError(f"no training examples of {', '.join(self.classes[i] for i in missing)}")
        self.pipeline = make_pipeline(**self.params, memory=memory).fit(_flat(images), labels)
        self.pipeline.memory = None
        # Nystroem maps x to k(x, landmarks) @ N.T with N an m x m matrix; the SVM scores
        # that with W. Scoring k(x, landmarks) with W @ N is the same function, and the
        # m x m matrix (32 MB for 2,000 landmarks) need not be saved.
        rbf, svm, pca = self.pipeline["rbf"], self.pipeline["svm"], self.pipeline["pca"]
        svm.coef_ = svm.coef_ @ rbf.normalization_
        # The two big arrays are stored as float32 to keep the file small; the arithmetic
        # stays float64 (numpy upcasts) and the scores move by less than 1e-5.
        pca.components_ = pca.components_.astype(np.float32)
        self.pipeline.steps[-2] = ("rbf", FunctionTransformer(
            rbf_kernel, kw_args={"Y": rbf.components_.astype(np.float32), "gamma": rbf.gamma}))
        return self

    def decision_function(self, crops: np.ndarray) -> np.ndarray:
        """One-vs-rest SVM scores (N, C)."""
        if self.pipeline is None:
            raise EmojaxError("this HogSVM is not fitted yet")
        return self.pipeline.decision_function(_flat(crops))

    def calibrate(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Fit the softmax temperature on held-out crops (minimum log-loss); returns it."""
        from scipy.optimize import minimize_scalar

        z = self.decision_function(images)

        def nll(log_t: float) -> float:
            p = softmax(z / np.exp(log_t))
            return -np.log(p[np.arange(len(labels)), labels] + 1e-12).mean()

        self.temperature = float(np.exp(minimize_scalar(nll, bounds=(-5, 3), method="bounded").x))
        return self.temperature

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, C) for uint8 crops (N, 48, 48); one crop may skip the N axis."""
        crops = np.asarray(crops, np.uint8)
        p = softmax(self.decision_function(crops) / self.temperature)
        return p[0] if crops.ndim == 2 else p

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)

    def save(self, path: str | Path) -> None:
        import joblib

        with atomic_path(path) as tmp:
            joblib.dump(self, tmp, compress=3)

    @classmethod
    def load(cls, path: str | Path) -> HogSVM:
        """Load a saved model. A .joblib file is a pickle: load only files you trust."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise EmojaxError(f"no SVM model at {path} (train one with experiments/train_svm.py)")
        try:
            model = joblib.load(path)
        except Exception as e:  # pickle raises nearly anything on a corrupt or foreign file
            raise EmojaxError(f"cannot load an SVM model from {path}: {type(e).__name__}: {e}") from None
        if not isinstance(model, cls):
            raise EmojaxError(f"{path} holds a {type(model).__name__}, not a HogSVM")
        return model


def _flat(crops: np.ndarray) -> np.ndarray:
    crops = np.asarray(crops, np.uint8)
    return crops.reshape(-1, IMAGE_SIZE * IMAGE_SIZE)
