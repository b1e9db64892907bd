"""The web server: the JSON API on real photos, the safety limits, concurrency and the CLI.

The shipped CNN (results/model) is used, not a freshly trained tiny one: it loads in half a
second, which is cheaper than training, and lets the angry photo be checked for what it is."""
from __future__ import annotations

import concurrent.futures
import io
import struct
import sys
import time
import warnings

import cv2
import numpy as np
import pytest

from conftest import REPO, SHARED, assert_clean_error, png_bomb, run_cli, three_jaffe_women

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's note that httpx2 will replace httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from emojax import face, serve  # noqa: E402
from emojax.pipeline import DEFAULT_MODEL, DEFAULT_SVM, Predictor, load_classifier  # noqa: E402

FACES = SHARED / "faces"
ANGRY = FACES / "angry_man.jpg"


@pytest.fixture(scope="module")
def angry() -> bytes:
    if not ANGRY.exists():
        pytest.skip(f"test photo not found at {ANGRY}")
    return ANGRY.read_bytes()


@pytest.fixture(scope="module")
def app():
    if not DEFAULT_MODEL.exists() or not DEFAULT_SVM.exists():
        pytest.skip("the shipped models (results/model, results/svm) are absent")
    return serve.create_app()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def grey_jpeg(w=320, h=240) -> bytes:
    return cv2.imencode(".jpg", np.full((h, w, 3), 128, np.uint8))[1].tobytes()


def test_good_photo_matches_the_library(client, angry):
    r = client.post("/api/predict", files={"file": ("photo.jpg", angry, "image/jpeg")})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "cnn" and (out["width"], out["height"]) == (425, 521) and out["time_ms"] > 0
    [f] = out["faces"]
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(angry, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    [ref] = Predictor(DEFAULT_MODEL).predict(rgb)
    assert f == ref.to_dict()
    assert f["emotion"] == "angry" and abs(sum(f["probabilities"].values()) - 1) < 1e-3
    # the raw body and the other model
    r = client.post("/api/predict?model=svm", content=angry, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200 and r.json()["model"] == "svm"
    assert r.json()["faces"][0]["box"] == f["box"]
    # the webcam page's faster detection: the library's answer with the same setting
    r = client.post("/api/predict?upsample=0", content=angry, headers={"Content-Type": "image/jpeg"})
    assert r.json()["faces"] == [p.to_dict() for p in Predictor(DEFAULT_MODEL, upsample=0).predict(rgb)]
    r = client.post("/api/predict?upsample=7", content=angry, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 422 and "upsample" in r.json()["error"]


def test_no_face(client):
    r = client.post("/api/predict", content=grey_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200 and r.json()["faces"] == [] and r.json()["width"] == 320


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b""],
                         ids=["text", "truncated-png", "empty"])
def test_corrupt_file(client, data, angry):
    for data in (data, angry[:300]) if data else (data,):  # also a JPEG cut after its header
        r = client.post("/api/predict", files={"file": ("x.jpg", data, "image/jpeg")})
        assert r.status_code == 400, r.text
        assert list(r.json()) == ["error"] and "\n" not in r.json()["error"]


def test_oversize_refused_while_reading(client):
    big = b"\xff\xd8\xff" + bytes(serve.MAX_UPLOAD)
    r = client.post("/api/predict", content=big, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = client.post("/api/predict", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413


def test_oversize_stream_refused_while_reading(url):
    """Over real HTTP, a chunked body with no length and no end: refused after ~10 MB."""
    import socket
    from urllib.parse import urlsplit

    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 100_000 + bytes(100_000) + b"\r\n"
        try:
            for _ in range(120):  # 12 MB, and never the final empty chunk
                s.sendall(chunk)
        except OSError:  # the server may close while we are still sending
            pass
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = s.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_decompression_bomb_refused_from_the_header(client):
    bomb = png_bomb()
    assert len(bomb) < 200_000 and face.image_size(bomb) == (30000, 30000)
    t = time.perf_counter()
    r = client.post("/api/predict", files={"file": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and "30000x30000" in r.json()["error"]
    assert time.perf_counter() - t < 5


def test_image_size_reads_every_header():
    img = np.zeros((37, 53, 3), np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tif"):
        data = cv2.imencode(ext, img)[1].tobytes()
        assert face.image_size(data) == (53, 37), ext
    assert face.image_size(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()) == (53, 37)
    assert face.image_size(cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()) == (53, 37)
    PIL = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    PIL.fromarray(img).save(buf, "GIF")
    assert face.image_size(buf.getvalue()) == (53, 37)
    assert face.image_size(b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0)
                            + b"\x2c" + struct.pack("<HHHHB", 0, 0, 40000, 40000, 0)) == (40000, 40000)
    assert face.image_size(b"hello") is None and face.image_size(b"\xff\xd8\xff") is None


def test_wrong_content_type(client, angry):
    for ctype in ("text/plain", "application/json", None):
        headers = {"Content-Type": ctype} if ctype else {}
        r = client.post("/api/predict", content=angry, headers=headers)
        assert r.status_code == 415 and "content type" in r.json()["error"], ctype
    r = client.post("/api/predict", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 415
    r = client.post("/api/predict", files={"photo": ("a.jpg", angry, "image/jpeg")})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    r = client.post("/api/predict?model=../../etc", content=angry, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 400 and "unknown model" in r.json()["error"]


def test_health_models_docs_page(client):
    assert client.get("/api/health").json() == {"status": "ok", "models": ["cnn", "svm"], "streams": 0}
    info = client.get("/api/models").json()
    assert info["default"] == "cnn" and [m["name"] for m in info["models"]] == ["cnn", "svm"]
    assert "happy" in info["models"][0]["classes"]
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]["/api/predict"]["post"]["requestBody"]["content"]) == {"multipart/form-data", "image/*"}
    page = client.get("/")
    assert page.status_code == 200 and 'id="model"' in page.text and 'src="static/app.js"' in page.text
    assert "getUserMedia" in client.get("/static/app.js").text
    for path in ("/static/../serve.py", "/static/%2e%2e%2fserve.py", "/static/index.html", "/nope"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path


def test_stream_frames_take_the_live_path(client):
    """A stream's frames (one JAFFE person, neutral for 6 s, then surprised) get what the live
    predictor's tracker gives the same frames at the same times: boxes, indices, smoothed
    probabilities; with amplify, faces are amplified from AMPLIFY_AFTER s on, as in live."""
    from emojax import photoset
    from emojax.pipeline import load_classifier
    from emojax.track import AMPLIFY_AFTER, FaceTracker

    jaffe = SHARED / "jaffe"
    if not jaffe.is_dir():
        pytest.skip(f"JAFFE not found at {jaffe}")
    photos = [ph for ph in photoset.read(jaffe) if ph.person == "KA"]
    shown = [ph for ph in photos if ph.emotion == "neutral"][:3] + [ph for ph in photos if ph.emotion == "surprise"][:1]
    frames = [face.load_image(ph.path) for ph in shown for _ in range(4)]  # each photo 2 s, a frame every 0.5 s
    reference = FaceTracker(load_classifier(DEFAULT_MODEL, views=None), upsample=1, amplify=3)
    streams = client.get("/api/health").json()["streams"]
    for i, rgb in enumerate(frames):
        t = 0.5 * i
        png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
        r = client.post(f"/api/predict?stream=ka-1&t={t}&amplify=3", content=png, headers={"Content-Type": "image/png"})
        assert r.status_code == 200, r.text
        tracks = reference.step(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), t)
        expected = [{**p.to_dict(), "track": tr.id, "amplified": t >= AMPLIFY_AFTER}
                    for tr, p in zip(tracks, reference.predictions(rgb.shape))]
        assert r.json()["faces"] == expected and len(expected) == 1, t
    assert expected[0]["emotion"] == "surprise"
    assert client.get("/api/health").json()["streams"] == streams + 1
    # a stream id is a name, not a path or a script; t and amplify belong to streams
    for query, status in (("stream=../x", 400), ("stream=" + "x" * 65, 400), ("amplify=3", 400), ("t=1", 400),
                          ("stream=a&amplify=0", 422), ("stream=a&amplify=11", 422), ("stream=a&t=-1", 422)):
        r = client.post(f"/api/predict?{query}", content=png, headers={"Content-Type": "image/png"})
        assert r.status_code == status and r.json()["error"], query


def test_streams_are_forgotten_when_idle_or_too_many():
    classifier = load_classifier("svm") if DEFAULT_SVM.exists() else pytest.skip("results/svm is absent")
    streams = serve.Streams(idle=0.5, most=2)

    def tracker(key):
        with streams.use(key, classifier, 0) as tr:
            return tr

    a, b = tracker("a"), tracker("b")
    assert tracker("a") is a and len(streams) == 2
    c = tracker("c")  # b is pushed out: idle the longest
    assert len(streams) == 2 and tracker("a") is a and tracker("c") is c and tracker("b") is not b
    time.sleep(0.6)
    assert tracker("d") is not None and len(streams) == 1  # the others were idle too long


@pytest.fixture(scope="module")
def url(app):
    with serve.running(app) as url:
        yield url


def test_concurrent_requests_over_http(url, angry):
    import httpx

    grey = grey_jpeg()
    with httpx.Client(base_url=url, timeout=60) as http:
        expected = {k: http.post("/api/predict", content=v, headers={"Content-Type": "image/jpeg"}).json()["faces"]
                    for k, v in (("angry", angry), ("grey", grey))}
        jobs = ["angry", "grey"] * 6
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(http.post, "/api/predict", content=angry if j == "angry" else grey,
                                   headers={"Content-Type": "image/jpeg"}) for j in jobs]
            health = pool.submit(http.get, "/api/health").result()  # answered while they run
            health_done = time.perf_counter()
            answers = [f.result() for f in futures]
            last = time.perf_counter()
        assert health.status_code == 200 and health_done < last
        for job, r in zip(jobs, answers):
            assert r.status_code == 200 and r.json()["faces"] == expected[job]
        assert expected["angry"][0]["emotion"] == "angry" and expected["grey"] == []


@pytest.fixture(scope="module")
def women() -> list:
    """18 JAFFE photos of three women."""
    return three_jaffe_women()


@pytest.fixture(scope="module")
def album(women) -> list[tuple]:
    """The same photos as ``files`` fields."""
    return [("files", (p.name, p.read_bytes(), "image/tiff")) for p in women]


def test_album_amplifies_each_face_against_its_persons_other_photos(client, album, women):
    """Three women's photos in one request: with amplify, the library's answer
    (``Predictor.predict_amplified`` on the same photos read from disk): three people found by
    face, every face made plainer; at dlib's own tolerance the look-alike women are one person.
    Without amplify, each photo's faces are what /api/predict says of it alone."""
    r = client.post("/api/album?amplify=3", files=album)
    assert r.status_code == 200, r.text
    out = r.json()
    images = [face.load_image(p) for p in women]
    expected, counts = Predictor(DEFAULT_MODEL).predict_amplified(images, 3.0)
    assert [ph["name"] for ph in out["photos"]] == [name for _, (name, _, _) in album]
    assert [(ph["width"], ph["height"]) for ph in out["photos"]] == [im.shape[1::-1] for im in images]
    assert [ph["faces"] for ph in out["photos"]] == [[f.to_dict() for f in fs] for fs in expected]
    assert (out["faces"], out["people"], out["amplified"]) == (18, 3, 18) == tuple(counts.values())
    assert all(f["amplified"] for ph in out["photos"] for f in ph["faces"])
    assert client.post("/api/album?amplify=3&tolerance=0.6", files=album).json()["people"] == 1
    plain = client.post("/api/album?model=svm", files=album[:3]).json()
    assert plain["faces"] == 3 and "people" not in plain and "amplified" not in plain["photos"][0]["faces"][0]
    assert [ph["faces"] for ph in plain["photos"]] == [
        client.post("/api/predict?model=svm", files={"file": f}).json()["faces"] for _, f in album[:3]]


def test_album_refusals_name_the_photo(client, album, angry):
    r = client.post("/api/album", files=[album[0], ("files", ("notes.jpg", b"not a photo", "image/jpeg"))])
    assert r.status_code == 400 and r.json()["error"].startswith("notes.jpg: not an image"), r.text
    r = client.post("/api/album", files=[album[0], ("files", ("doc.pdf", angry, "application/pdf"))])
    assert r.status_code == 415 and "doc.pdf" in r.json()["error"]
    r = client.post("/api/album?tolerance=0.5", files=album[:2])
    assert r.status_code == 400 and "tolerance" in r.json()["error"] and "amplify" in r.json()["error"]
    r = client.post("/api/album", files={"file": ("a.jpg", angry, "image/jpeg")})
    assert r.status_code == 400 and r.json()["error"] == "no 'files' field in the form"
    r = client.post("/api/album", content=angry, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 415 and "files" in r.json()["error"]
    r = client.post("/api/predict", files=[("file", ("a.jpg", angry, "image/jpeg"))] * 2)
    assert r.status_code == 400 and r.json()["error"] == "one 'file' per request"  # an album goes to /api/album


def test_save_uploads_and_limits(tmp_path, angry):
    app = serve.create_app({"base": "svm"}, max_upload=200_000, max_pixels=3e5, upload_dir=tmp_path / "up")
    with TestClient(app) as c:
        r = c.post("/api/predict", files={"file": ("../../evil.jpg", angry, "image/jpeg")})
        assert r.status_code == 200 and r.json()["model"] == "base"
        assert c.post("/api/predict", content=bytes(200_001), headers={"Content-Type": "image/png"}).status_code == 413
        big = cv2.imencode(".png", np.zeros((600, 600), np.uint8))[1].tobytes()  # 360,000 px > 3e5
        assert c.post("/api/predict", content=big, headers={"Content-Type": "image/png"}).status_code == 413
        assert c.post("/api/predict", content=b"junk", headers={"Content-Type": "image/png"}).status_code == 400
    saved = list((tmp_path / "up").iterdir())
    assert len(saved) == 1 and saved[0].suffix == ".jpg" and saved[0].read_bytes() == angry
    assert "evil" not in saved[0].name and not (tmp_path / "evil.jpg").exists()
    # an album: the photo count, each photo's size and the total, refused while reading
    app = serve.create_app({"base": "svm"}, max_upload=200_000, max_album=300_000, max_photos=2,
                           upload_dir=tmp_path / "album")
    small = cv2.imencode(".jpg", np.full((100, 100, 3), 128, np.uint8))[1].tobytes()
    with TestClient(app) as c:
        def post(*sizes):
            return c.post("/api/album", files=[("files", (f"{i}.jpg", small + bytes(n), "image/jpeg"))
                                               for i, n in enumerate(sizes)])
        assert post(0, 0).status_code == 200
        r = post(0, 0, 0)
        assert r.status_code == 413 and r.json()["error"] == "too many files: at most 2 in one request"
        r = post(0, 200_001)
        assert r.status_code == 413 and r.json()["error"].startswith("upload too large: 1.jpg is over 0.2 MB")
        r = post(150_000, 150_000)
        assert r.status_code == 413 and r.json()["error"] == "upload too large: over 0.3 MB in all"
    assert len(list((tmp_path / "album").iterdir())) == 2  # the one album answered


def test_cross_origin_calls_only_from_allowed_sites(client, angry):
    """CORS: by default no other site's page may read the API; ``allow_origins`` lets the ones
    named, for the preflight an image body needs, for answers and for errors alike."""
    site, preflight = "https://app.example", {"Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"}
    r = client.options("/api/predict", headers={"Origin": site, **preflight})
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/api/health", headers={"Origin": site}).headers
    with TestClient(serve.create_app({"svm": "svm"}, allow_origins=[site, "http://localhost:3000"])) as c:
        r = c.options("/api/predict", headers={"Origin": site, **preflight})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == site
        assert "POST" in r.headers["access-control-allow-methods"]
        r = c.options("/api/predict", headers={"Origin": "https://evil.example", **preflight})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = c.post("/api/predict", content=angry, headers={"Origin": site, "Content-Type": "image/jpeg"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == site
        assert len(r.json()["faces"]) == 1
        r = c.post("/api/predict", content=b"junk", headers={"Origin": site, "Content-Type": "image/jpeg"})
        assert r.status_code == 400 and r.headers["access-control-allow-origin"] == site  # the page reads why
    serve.check_origins(["*", "http://127.0.0.1:8000", "https://example.com"])
    for bad in ("https://example.com/", "example.com", "https://example.com/app", "ftp://example.com", ""):
        with pytest.raises(serve.EmojaxError, match="origin"):
            serve.check_origins([bad])


def test_parse_models():
    assert serve.parse_models(None) is None
    assert serve.parse_models(["results/model/", "svm", "x=runs/a.joblib"]) == {
        "model": "results/model/", "svm": "svm", "x": "runs/a.joblib"}
    with pytest.raises(serve.EmojaxError):
        serve.parse_models(["svm", "svm"])


def test_cli_errors_and_a_real_start(tmp_path):
    assert_clean_error(run_cli("-m", "emojax.serve", "--model", str(tmp_path / "missing"), timeout=60))
    proc = run_cli("-m", "emojax.serve", "--max-album-mb", "0", timeout=60)
    assert_clean_error(proc)
    assert "--max-album-mb" in proc.stderr
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        proc = run_cli("-m", "emojax.serve", "--model", "svm", "--port", str(busy), timeout=60)
        assert_clean_error(proc)
        assert "cannot listen" in proc.stderr
    import subprocess
    import httpx
    import os

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "emojax.serve", "--model", "svm", "--port", str(port),
                             "--root-path", "/emojax"],  # as a reverse proxy that strips /emojax sends it
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.3)
        assert r.json() == {"status": "ok", "models": ["svm"], "streams": 0}
        assert "/emojax/openapi.json" in httpx.get(f"http://127.0.0.1:{port}/docs").text
    finally:
        proc.terminate()
        proc.wait(20)
    assert "http://127.0.0.1:" in proc.stderr.read()
