"""emojax: facial-expression recognition with dlib, Flax, optax and orbax."""
__version__ = "0.1.0"
