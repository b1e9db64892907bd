"""Shared command-line plumbing: one-line errors and exit codes, atomic file writes, and
the Markdown tables and command lines that results files carry.

Every CLI in emojax wraps its ``main`` with :func:`run`, so that bad input (a missing
file, a corrupt image, no camera) ends with ``error: <what went wrong>`` on stderr and
exit status 2 instead of a traceback.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence


class EmojaxError(Exception):
    """An error caused by the user's input or environment, reported as one line."""


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, systemd, docker stop) stops a command like Ctrl-C


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Call ``main(argv)`` and turn user-facing errors into ``error: ...`` and exit 2.

    SIGTERM is handled like Ctrl-C, so a command that writes progressively (a video being
    saved, training between checkpoints) finalises or cleans up the same way for both."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        with console_log():
            code = main(argv)
    except KeyboardInterrupt as e:
        print(f"interrupted: {e}" if str(e) else "interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:  # stdout's reader left (| head): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        code = 141
    except (EmojaxError, FileNotFoundError, PermissionError, IsADirectoryError, FileExistsError,
            NotADirectoryError) as e:
        msg = str(e) if isinstance(e, EmojaxError) else f"{e.strerror}: {e.filename}"
        print(f"error: {msg}", file=sys.stderr)
        code = 2
    sys.exit(code or 0)


@contextlib.contextmanager
def console_log() -> Iterator[None]:
    """Show what the library reports as it goes (the ``emojax`` logger at INFO: a dataset's
    summary, training's epoch lines) on stderr while a command runs. The library logs and
    never prints; from Python, ``logging.basicConfig(level=logging.INFO)`` shows the same."""
    logger = logging.getLogger("emojax")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    before = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # shown once, here, whatever the root logger does
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them to the handlers that
    were in place: for writes that must not stop half-way (a training checkpoint, which an
    interrupt in its writer threads leaves half-written or hangs). A signal that the process
    ignores (SIGINT in a background job of a script) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    kinds = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) not in (signal.SIG_IGN, None)]
    before = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in kinds}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if held:  # called here, not re-raised: a handler run by the interpreter may land in a gc
            handler = before[held[0]]  # callback, where its KeyboardInterrupt would be lost
            if callable(handler):
                handler(held[0], None)
            else:
                signal.raise_signal(held[0])  # SIG_DFL: the default action (SIGTERM ends the process)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    Readers never see a half-written output file, even if the writer crashes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.{os.getpid()}.", suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cache_dir() -> Path:
    """Where emojax keeps what it can recompute (parsed datasets, teacher probabilities):
    ``$XDG_CACHE_HOME/emojax``, by default ``~/.cache/emojax``."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emojax"


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """``python experiments/NAME.py ARGS``: how a results file says what made it (``script``
    is the caller's ``__file__``, ``argv`` its arguments, ``None`` for the process's)."""
    rel = Path(script).resolve()
    return shlex.join(["python", f"{rel.parent.name}/{rel.name}", *(sys.argv[1:] if argv is None else argv)])


def shown(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """How a results file names ``path``: relative to ``root`` (the checkout) when it lies
    inside it, as given otherwise, so committed tables carry no machine's folders."""
    p = Path(path).resolve()
    return str(p.relative_to(Path(root).resolve())) if p.is_relative_to(Path(root).resolve()) else str(path)


def named(spec: str) -> tuple[str, str]:
    """``NAME=FOLDER`` -> (NAME, FOLDER); a bare ``FOLDER`` names itself: how results scripts
    take the models of their table."""
    name, _, folder = spec.rpartition("=")
    return name or folder, folder


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """A Markdown table, its first ``left`` columns left-aligned and the figures right-aligned."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * left + "---:|" * (len(head) - left)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report(text: str, rows, out: str | os.PathLike | None) -> None:
    """What a results script ends with: its Markdown printed, and written with its figures
    (``write_table``) where ``out`` names a file."""
    print(text)
    if out:
        write_table(out, text, rows)


def write_table(path: str | os.PathLike, text: str, rows) -> None:
    """A Markdown table and, beside it (``.json``), every figure it was made from; each
    file replaced whole or not at all."""
    import json

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(rows, indent=2))


def _remove_stale(path: Path) -> None:
    """Delete temporaries that a killed writer of ``path`` left (SIGKILL leaves no chance to
    clean up): their name holds the writer's process id, and that process is gone."""
    for tmp in path.parent.glob(f".{glob.escape(path.stem)}.*{glob.escape(path.suffix)}"):
        pid = tmp.name[len(path.stem) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, someone else's


def check_out_dir(path: str | os.PathLike | None, flag: str = "--out") -> Path | None:
    """Fail before any work when ``path`` cannot become a folder: it is an existing file, or
    one of its parents is. The folder itself is created when the first output is written."""
    if path is None:
        return None
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == path else f"is under {p}, which is a file"
                raise EmojaxError(f"{flag} {path} {where}, not a folder")
            if not os.access(p, os.W_OK):
                raise EmojaxError(f"{flag} {path}: no permission to write in {p}")
            break
    return path


def _number(kind, low: float, strict: bool, what: str):
    def parse(text: str):
        import argparse

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < low or (strict and value == low) or value != value:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    parse.__name__ = what  # argparse names the type in its messages
    return parse


# argparse ``type=`` for counts and rates: a bad value is a usage error, before any work.
positive_int = _number(int, 0, True, "a positive whole number")
non_negative_int = _number(int, 0, False, "a whole number >= 0")
positive_float = _number(float, 0.0, True, "a positive number")


def dlib_model_file(name: str) -> Path:
    """A dlib model file shipped by ``face_recognition_models``, found without importing it:
    its ``__init__`` imports ``pkg_resources``, which setuptools 81 and newer no longer ship."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EmojaxError("face_recognition_models is not installed: pip install face_recognition_models")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise EmojaxError(f"dlib model file {path} is missing: reinstall face_recognition_models")
    return path


def save_figure(fig, path: Path) -> None:
    """A matplotlib figure written whole or not at all (its format from the suffix), then closed."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
