"""emojax: facial-expression recognition with dlib, Flax, optax and orbax."""
import os as _os

__version__ = "0.1.0"


def _cpu_flags() -> None:
    """XLA CPU settings measured in benchmarks/RESULTS.md, set before JAX starts.

    jaxlib 0.10 hands convolutions to YNNPACK, which runs them on one thread; with that
    fusion off they go to Eigen, which uses every core (2.3x faster convolutions on two
    cores). Only for the pinned jaxlib series, whose flags we know: an unknown XLA flag is
    fatal, and EMOJAX_XLA_DEFAULTS=0 (or a user's own ynn setting) leaves XLA_FLAGS alone.
    """
    flags = _os.environ.get("XLA_FLAGS", "")
    if _os.environ.get("EMOJAX_XLA_DEFAULTS", "1") == "0" or "ynn_fusion_type" in flags:
        return
    try:
        from jaxlib.version import __version__ as jaxlib_version
    except ImportError:
        return
    if jaxlib_version.startswith("0.10."):
        _os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_experimental_ynn_fusion_type=").strip()


_cpu_flags()
