"""The web page in a real browser: Debian's chromium + chromium-driver driven by selenium.

Upload flow: angry_man.jpg is chosen in the file input; one face, its emotion and its bar appear.
Webcam flow: Chromium's fake camera plays a .y4m clip made from the same photo (gliding from
left to right and back, looping); predictions appear, the log prints ``HH:MM:SS : Angry , 83%``
lines, the box follows the face and the face keeps its index; with "Make quiet expressions
plainer" ticked, the server amplifies the face after 4 s (an angry face that stays angry stays
angry: it is its own usual look). Skipped, with the reason, where chromium, chromedriver or
selenium are absent (.ci/run installs them with apt)."""
from __future__ import annotations

import re
import time

import cv2
import numpy as np
import pytest

from conftest import SHARED, three_jaffe_women
from experiments.web_screenshots import (album, browser_missing, chromium, faces_listed, open_page, upload, wait,
                                        webcam, webcam_video)

ANGRY = SHARED / "faces" / "angry_man.jpg"

_missing = browser_missing()
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")


@pytest.fixture(scope="module")
def url():
    pytest.importorskip("fastapi")
    from emojax import serve
    from emojax.pipeline import DEFAULT_MODEL

    if not DEFAULT_MODEL.exists():
        pytest.skip(f"the shipped CNN is absent ({DEFAULT_MODEL})")
    with serve.running(serve.create_app({"cnn": DEFAULT_MODEL})) as url:
        yield url


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if not ANGRY.exists():
        pytest.skip(f"test photo not found at {ANGRY}")
    video = webcam_video(tmp_path_factory.mktemp("cam") / "angry.y4m", ANGRY)
    with chromium(video) as d:
        yield d


def test_upload_flow(driver, url, tmp_path):
    [f] = upload(driver, url, ANGRY)
    assert f["emotion"] == "angry"
    assert f["bars"]["angry"] == max(f["bars"].values()) > 10  # pixels: the bar is drawn
    assert len(f["bars"]) == 7
    status = driver.find_element("id", "status").text
    assert status.startswith("1 face in 425x521"), status
    # no face, then a file that is not an image: said on the page
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((240, 320, 3), 128, np.uint8))
    assert upload(driver, url, grey) == []
    assert "No face" in driver.find_element("id", "faces").text
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a photo")
    driver.find_element("id", "file").send_keys(str(junk))
    assert wait(driver, "document.getElementById('status').classList.contains('error')", 20)
    assert "not an image" in driver.find_element("id", "status").text


def test_album_flow(driver, url, tmp_path):
    """18 photos of three JAFFE women (written as PNG, which a browser draws) chosen at once with
    "Make quiet expressions plainer" ticked: one /api/album request, its answer what the API
    gives the same files; a thumbnail per photo, the first drawn large, and a click on another
    lists that photo's face."""
    import httpx

    paths = []
    for src in three_jaffe_women():
        paths.append(tmp_path / (src.stem + ".png"))
        cv2.imwrite(str(paths[-1]), cv2.imread(str(src), cv2.IMREAD_GRAYSCALE))
    files = [("files", (p.name, p.read_bytes(), "image/png")) for p in paths]
    expected = httpx.post(url + "/api/album?amplify=3", files=files, timeout=120).json()
    assert (expected["faces"], expected["people"], expected["amplified"]) == (18, 3, 18)
    answer = album(driver, url, paths, amplify=True)
    assert [ph["faces"] for ph in answer["photos"]] == [ph["faces"] for ph in expected["photos"]]
    assert driver.find_element("id", "status").text.startswith("18 photos, 18 faces, 3 people found by face, "
                                                               "18 made plainer")
    thumbs = driver.find_elements("css selector", "#album .thumb")
    assert len(thumbs) == 18 and "selected" in thumbs[0].get_attribute("class")
    assert thumbs[4].find_element("tag name", "figcaption").text.startswith(paths[4].name)
    thumbs[4].click()
    [f] = faces_listed(driver)
    assert f["emotion"] == expected["photos"][4]["faces"][0]["emotion"] and "amplified x3" in f["heading"]
    assert driver.execute_script("return window.emojax.last")["faces"] == expected["photos"][4]["faces"]
    # one photo chosen next: /api/predict's answer, and the album is put away
    driver.find_element("id", "file").send_keys(str(paths[0]))
    assert wait(driver, "window.emojax.album === null && window.emojax.last.faces[0].amplified === undefined", 30)
    assert not driver.find_element("id", "album").is_displayed()


def test_webcam_flow(driver, url):
    cam = webcam(driver, url, frames=8, timeout=60)
    faces = cam["last"]["faces"]
    assert cam["last"]["width"] == 640 and cam["last"]["height"] == 480
    assert len(faces) == 1 and faces[0]["emotion"] == "angry" and faces[0]["track"] == 0
    assert not faces[0]["amplified"]  # not asked for
    assert cam["faces"][0]["emotion"] == "angry"
    # one line a second, like `python -m emojax.live` (the camera's very first frame may be blank)
    line = re.compile(r"\d\d:\d\d:\d\d : (Angry , \d{1,3}%|no face)")
    assert cam["log"] and all(line.fullmatch(x) for x in cam["log"]), cam["log"]
    # the stream goes on and the box follows the face from one side of the frame to the other
    first_left, frames = faces[0]["box"][0], cam["frames"]
    deadline = time.monotonic() + 20
    moved = False
    while time.monotonic() < deadline and not moved:
        last = driver.execute_script("return window.emojax.last")
        moved = bool(last["faces"]) and abs(last["faces"][0]["box"][0] - first_left) > 100
        time.sleep(0.2)
    assert moved
    assert driver.execute_script("return window.emojax.drawn") > frames
    log = driver.find_element("id", "log").text.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d : Angry , \d{1,3}%", log[-1]) and len(log) >= 2, log
    assert last["faces"][0]["track"] == 0  # the same face all along
    fps = driver.execute_script("return window.emojax.fps")
    print(f"webcam page: {fps:.1f} frames/s")
    driver.find_element("id", "cam-toggle").click()  # stop


def test_webcam_amplify(driver, url):
    cam = webcam(driver, url, frames=3, timeout=60, amplify=True)
    assert not any(f["amplified"] for f in cam["last"]["faces"])  # not yet: the face was just seen
    assert "Learning the usual look" in driver.find_element("id", "status").text
    started = time.monotonic()
    amplified = wait(driver, "window.emojax.last.faces.some(f => f.amplified) && window.emojax.last", 40)
    assert amplified, driver.find_element("id", "status").text
    assert time.monotonic() - started > 2  # the page has sent frames for over 4 s by now
    [f] = amplified["faces"]
    assert f["emotion"] == "angry" and f["track"] == 0
    assert wait(driver, "document.querySelector('#faces .face h3').textContent.includes('amplified x3')", 10)
    driver.find_element("id", "cam-toggle").click()  # stop


def test_other_sites_call_the_api_only_where_allowed(driver, url):
    """A page from one server (another site, to the browser: another port) posts a photo to two
    other servers' API: the one started with its origin in ``allow_origins`` answers it (after
    the browser's preflight, as image/jpeg bodies need one), the other is blocked by the browser."""
    import base64

    from emojax import serve

    open_page(driver, url)
    post = """const [api, b64, done] = arguments;
        const body = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        fetch(api + '/api/predict', {method: 'POST', headers: {'Content-Type': 'image/jpeg'}, body})
          .then(r => r.json()).then(j => done(j), e => done(String(e)));"""
    photo = base64.b64encode(ANGRY.read_bytes()).decode()
    driver.set_script_timeout(60)
    with serve.running(serve.create_app({"svm": "svm"}, allow_origins=[url])) as allowed, \
            serve.running(serve.create_app({"svm": "svm"}, allow_origins=["https://elsewhere.example"])) as other:
        answer = driver.execute_async_script(post, allowed, photo)
        assert answer["model"] == "svm" and len(answer["faces"]) == 1, answer
        assert driver.execute_async_script(post, other, photo) == "TypeError: Failed to fetch"


def test_the_page_works_under_a_path_prefix(driver):
    """Behind a reverse proxy that serves the app under /emojax/ (a Starlette Mount stands in
    for the proxy), the page finds its script, its style and the API there, and so do the docs."""
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from emojax import serve

    site = Starlette(routes=[Mount("/emojax", app=serve.create_app({"svm": "svm"}))])
    with serve.running(site) as root:
        [f] = upload(driver, root + "/emojax", ANGRY)
        assert f["bars"][f["emotion"]] == max(f["bars"].values()) > 10
        assert driver.execute_script("return document.styleSheets[0].href") == root + "/emojax/static/style.css"
        assert driver.execute_script("return document.styleSheets[0].cssRules.length") > 10
        api = driver.find_element("link text", "API").get_attribute("href")
        assert api == root + "/emojax/docs" and "/emojax/openapi.json" in httpx.get(api).text
        assert httpx.get(root + "/emojax/openapi.json").json()["paths"]["/api/album"]
