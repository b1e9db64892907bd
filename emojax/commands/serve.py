"""``emojax serve`` (``python -m emojax.serve``): the web page and REST API of
:mod:`emojax.serve` on uvicorn, with its limits, origins and workers as flags.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from pathlib import Path

from emojax import serve
from emojax.io import EmojaxError, run
from emojax.serve import MAX_ALBUM, MAX_PHOTOS, MAX_PIXELS, MAX_UPLOAD, MB, check_origins, create_app, parse_models


def _check_port(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise EmojaxError(f"cannot resolve --host {host}: {e.strerror}") from e
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise EmojaxError(f"cannot listen on {host}:{port}: {e.strerror}") from e


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emojax.serve", description=serve.__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", metavar="NAME=PATH",
                        help="a model to serve (repeatable): a CNN folder, a .joblib SVM or 'svm'; "
                             "the first is the default (default: cnn=results/model and svm)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="default 8000")
    parser.add_argument("--save-uploads", metavar="DIR", help="keep every decodable upload in DIR (default: keep none)")
    parser.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD / MB, help="default 10")
    parser.add_argument("--max-pixels", type=float, default=MAX_PIXELS, help="default 50e6")
    parser.add_argument("--max-album-mb", type=float, default=MAX_ALBUM / MB,
                        help=f"one /api/album request, all its photos together (default {MAX_ALBUM / MB:g}; "
                             f"at most {MAX_PHOTOS} photos)")
    parser.add_argument("--workers", type=int, default=1, help="server processes, each with its own models (default 1)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let pages from ORIGIN (https://example.com; * for any site) call the API from a "
                             "browser (CORS; repeatable). Default: only the page this server serves")
    parser.add_argument("--root-path", default="", metavar="PREFIX",
                        help="the path a reverse proxy serves this under, e.g. /emojax, for the API docs' links "
                             "(the page itself works under any path)")
    args = parser.parse_args(argv)
    if args.root_path and not re.fullmatch(r"(/[\w.~-]+)+", args.root_path):
        raise EmojaxError(f"--root-path {args.root_path!r}: a path like /emojax (no trailing slash)")
    if args.workers < 1 or not 0 < args.port < 65536 or min(args.max_upload_mb, args.max_pixels, args.max_album_mb) <= 0:
        raise EmojaxError("--workers, --port, --max-upload-mb, --max-pixels and --max-album-mb must be positive "
                          "(port < 65536)")
    import uvicorn

    check_origins(args.allow_origin)
    models = parse_models(args.model)
    for name, path in (models or {}).items():
        if path != "svm" and not Path(path).exists():
            raise EmojaxError(f"--model {name}: no model at {path}")
    settings = {"models": models, "max_upload": int(args.max_upload_mb * MB), "max_pixels": args.max_pixels,
                "upload_dir": args.save_uploads, "max_album": int(args.max_album_mb * MB),
                "allow_origins": args.allow_origin}
    _check_port(args.host, args.port)
    print(f"emojax: http://{args.host}:{args.port}/  (API docs at /docs)", file=sys.stderr, flush=True)
    if args.workers == 1:
        uvicorn.run(create_app(**settings), host=args.host, port=args.port, root_path=args.root_path,
                    log_level="info")
    else:
        os.environ["EMOJAX_SERVE"] = json.dumps(settings)
        uvicorn.run("emojax.serve:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, root_path=args.root_path, log_level="info")
    return 0


def cli() -> None:
    run(main)

