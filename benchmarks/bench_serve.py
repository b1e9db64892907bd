"""Load test of the web server: ``python -m emojax.serve`` on 127.0.0.1 and 32 concurrent clients.

    python benchmarks/bench_serve.py                          # 200 requests, writes benchmarks/RESULTS_serve.md
    python benchmarks/bench_serve.py --requests 500 --clients 32 --workers 2 --no-write

Starts the server in its own process on a free port of 127.0.0.1 (nothing else is contacted),
sends ``--requests`` POST /api/predict from ``--clients`` concurrent clients (stopping after
``--max-seconds`` whatever the count), cycling over real photos (angry_man.jpg, a 640x480
webcam-like frame of it, group_selfie.jpg shrunk to 1024x768, a plain grey image), and checks
that every answer has the faces (boxes) and emotions that ``emojax.pipeline.Predictor`` gives
for that photo in this process, and the same probabilities within 1e-3. Reports throughput
and p50/p95 latency, then the one-client latency of the 640x480 one-face frame (the webcam
page's case; target p95 < 100 ms) with the detector's upsample=1 (the default) and 0, and as the
frames of a webcam stream (``stream=ID``, upsample=0: what the page sends; tracked, the detector
every third frame), without and with ``amplify=3``.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FACES = REPO.parent / "shared" / "data" / "faces"

from emojax.io import EmojaxError, atomic_path, run  # noqa: E402


def photos() -> dict[str, bytes]:
    """name -> JPEG bytes of the photos the clients send."""
    from emojax import face
    from experiments.web_screenshots import fit

    angry, group = FACES / "angry_man.jpg", FACES / "group_selfie.jpg"
    for p in (angry, group):
        if not p.exists():
            raise EmojaxError(f"benchmark photo not found: {p}")

    def jpeg(rgb):
        return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()

    g = face.load_image(group)
    return {"angry_man.jpg": angry.read_bytes(),
            "frame_640x480": jpeg(fit(face.load_image(angry))),
            "group_1024x768": jpeg(cv2.resize(g, (1024, 768), interpolation=cv2.INTER_AREA)),
            "grey_640x480": jpeg(np.full((480, 640, 3), 128, np.uint8))}


def expected(data: dict[str, bytes], model: str | None, upsample: int = 1) -> dict[str, list[dict]]:
    from emojax.pipeline import Predictor

    p = Predictor(model, upsample=upsample)
    return {k: [f.to_dict() for f in p.predict(cv2.cvtColor(cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_COLOR),
                                                            cv2.COLOR_BGR2RGB))]
            for k, v in data.items()}


def same(got: list[dict], want: list[dict]) -> bool:
    return len(got) == len(want) and all(
        g["box"] == w["box"] and g["emotion"] == w["emotion"]
        and all(abs(g["probabilities"][c] - w["probabilities"][c]) <= 1e-3 for c in w["probabilities"])
        for g, w in zip(got, want))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, data: dict[str, bytes], want: dict, n: int, clients: int, max_seconds: float):
    import httpx

    names = list(data)
    latencies, wrong, errors, next_i = [], [], [], iter(range(n))
    deadline = time.perf_counter() + max_seconds

    async def client(http):
        for i in next_i:
            if time.perf_counter() > deadline:
                return
            name = names[i % len(names)]
            t = time.perf_counter()
            try:
                r = await http.post("/api/predict", content=data[name], headers={"Content-Type": "image/jpeg"})
            except httpx.HTTPError as e:
                errors.append(f"{name}: {e!r}")
                continue
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors.append(f"{name}: HTTP {r.status_code} {r.text[:100]}")
            elif not same(r.json()["faces"], want[name]):
                wrong.append(name)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return np.array(latencies), wrong, errors, elapsed


SINGLES = {  # the one-client cases: query -> what it stands for
    "upsample=1": "upsample=1 (the default, as emojax.predict)",
    "upsample=0": "upsample=0 (as emojax.live)",
    "upsample=0&stream=bench": "a webcam stream (stream=ID, upsample=0: what the page sends)",
    "upsample=0&stream=bench-amplify&amplify=3": "a webcam stream with amplify=3 (the page's checkbox)"}


def one_client(url: str, body: bytes, want: list[dict], n: int, query: str) -> tuple[np.ndarray, int]:
    """Latencies of ``n`` requests in a row, and how many answers equal ``want``. A stream's
    frames are 1 s apart on its clock (``t``), so that amplify works from the fifth on."""
    import httpx

    out, good = [], 0
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(n + 2):  # 2 warm-up requests
            t = time.perf_counter()
            r = http.post(f"/api/predict?{query}" + (f"&t={i}" if "stream" in query else ""), content=body,
                          headers={"Content-Type": "image/jpeg"})
            out.append(time.perf_counter() - t)
            good += r.status_code == 200 and same(r.json()["faces"], want)
    return np.array(out[2:]), good - 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=180, help="stop sending after this long (default 180)")
    parser.add_argument("--single", type=int, default=50, help="one-client requests of the 640x480 frame (default 50)")
    parser.add_argument("--model", default=None, help="as for python -m emojax.serve --model (default: the shipped CNN)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "RESULTS_serve.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not 0 < args.requests <= 100_000 or not 0 < args.clients <= 256:
        raise EmojaxError("--requests must be 1..100000 and --clients 1..256")

    import httpx

    data = photos()
    want = expected(data, args.model)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "emojax.serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(args.workers), "--model", f"cnn={args.model}" if args.model else f"cnn={REPO / 'results' / 'model'}"]
    server = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise EmojaxError(f"the server did not start: {server.stderr.read()[-500:] if server.poll() is not None else 'timeout'}")
            time.sleep(0.3)
        # warm-up: every photo once per worker (compiles each face-count batch size)
        asyncio.run(load(url, data, want, 2 * len(data) * args.workers, min(args.clients, 4), 120))
        lat, wrong, errors, elapsed = asyncio.run(load(url, data, want, args.requests, args.clients, args.max_seconds))
        frame = {"frame_640x480": data["frame_640x480"]}
        want0 = expected(frame, args.model, upsample=0)
        singles = {q: one_client(url, frame["frame_640x480"], (want if q == "upsample=1" else want0)["frame_640x480"],
                                 args.single, q) for q in SINGLES}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()

    ms = lambda a, q: 1000 * float(np.percentile(a, q)) if len(a) else float("nan")  # noqa: E731
    done = len(lat)
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"- {done} requests ({len(lat) - len(errors)} answered 200) from {args.clients} concurrent clients in "
        f"{elapsed:.1f} s: **{done / elapsed:.1f} requests/s**, latency p50 {ms(lat, 50):.0f} ms, "
        f"p95 {ms(lat, 95):.0f} ms",
        f"- answers equal to the library's (same boxes, emotions, probabilities within 1e-3): "
        f"{done - len(wrong) - len(errors)}/{done}" + (f"; WRONG: {sorted(set(wrong))}" if wrong else "")
        + (f"; errors: {errors[:3]}" if errors else ""),
    ] + [
        f"- one client, 640x480 frame with one face, {len(single)} requests, {SINGLES[q]}: "
        f"p50 {ms(single, 50):.0f} ms, **p95 {ms(single, 95):.0f} ms** (target < 100 ms); "
        f"{good}/{len(single)} equal to the library's"
        for q, (single, good) in singles.items()]
    header = (f"`{' '.join(['python', 'benchmarks/bench_serve.py', *(argv if argv is not None else sys.argv[1:])])}` "
              f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
              f"load average {load_avg:.1f} at the end, server: {args.workers} worker(s), model: {args.model or 'results/model'}; "
              f"photos cycled: {', '.join(data)})")
    print(header)
    print("\n".join(lines))
    if not args.no_write:
        path = Path(args.out)
        old = path.read_text() if path.exists() else (
            "# Web server under load\n\nWritten by `benchmarks/bench_serve.py`; newest run first.\n")
        head, _, rest = old.partition("\n## ")
        entry = f"## Run of {time.strftime('%Y-%m-%d %H:%M')}\n\n{header}\n\n" + "\n".join(lines) + "\n"
        with atomic_path(path) as tmp:
            tmp.write_text(head.rstrip("\n") + "\n\n" + entry + ("\n## " + rest if rest else ""))
        print(f"-> {path}")
    return 1 if wrong or errors or any(g != len(x) for x, g in singles.values()) else 0


if __name__ == "__main__":
    run(main)
