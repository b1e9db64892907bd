"""Screenshots of the web page (``python -m emojax.serve``) in headless Chromium: the photo
upload flow, several photos chosen at once (an album) and the webcam flow, the camera being
Chromium's fake device fed a ``.y4m`` video made from a real photo.

    python experiments/web_screenshots.py        # -> results/web/upload.png, album.png, webcam.png
    python experiments/web_screenshots.py --photo me.jpg --model svm --out shots/

A manual check that the page draws boxes, labels and probability bars, and the helpers
tests/test_web_browser.py drives the browser with. Needs Debian's ``chromium`` and
``chromium-driver`` (``apt-get install chromium chromium-driver``) and selenium. Exit status
2 with ``error: ...`` when they are missing or the page never showed a prediction.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

try:
    import emojax  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from emojax.io import EmojaxError, atomic_path, run

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "data" / "faces" / "angry_man.jpg"
ALBUM = (PHOTO, PHOTO.with_name("group_selfie.jpg"))
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None`` when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not any(shutil.which(c) for c in CHROMIUM):
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if not any(shutil.which(d) for d in DRIVER):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def fit(rgb: np.ndarray, w: int = 640, h: int = 480, dx: int = 0) -> np.ndarray:
    """The photo scaled to fit a w x h grey frame (aspect kept), moved ``dx`` pixels right."""
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), 110, np.uint8)
    x = int(np.clip((w - small.shape[1]) // 2 + dx, 0, w - small.shape[1]))
    y = (h - small.shape[0]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def write_y4m(path: str | Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """RGB frames (all H x W, even sizes) -> an uncompressed YUV 4:2:0 ``.y4m`` video, the
    format of Chromium's ``--use-file-for-fake-video-capture``."""
    h, w = frames[0].shape[:2]
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes())  # Y, U, V planes
    return Path(path)


def webcam_video(path: str | Path, photo: str | Path = PHOTO, fps: int = 10) -> Path:
    """A 4-second 640x480 fake-camera clip: the photo glides from the left (140 px left of the
    centre) to the right in 2 s and back, as a face moves in front of a webcam; Chromium loops
    it, so the face never jumps."""
    from emojax import face

    rgb = face.load_image(photo)
    there = [fit(rgb, dx=round(-140 + 280 * i / (2 * fps - 1))) for i in range(2 * fps)]
    return write_y4m(path, there + there[::-1], fps)


@contextlib.contextmanager
def chromium(y4m: str | Path | None = None, width: int = 1280, height: int = 900) -> Iterator:
    """A headless Chromium driven by selenium; with ``y4m``, a fake camera playing it
    (permission granted without asking)."""
    reason = browser_missing()
    if reason:
        raise EmojaxError(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = next(shutil.which(c) for c in CHROMIUM if shutil.which(c))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    if y4m:
        opts.add_argument("--use-fake-device-for-media-stream")
        opts.add_argument("--use-fake-ui-for-media-stream")
        opts.add_argument(f"--use-file-for-fake-video-capture={Path(y4m).resolve()}")
    service = Service(next(shutil.which(d) for d in DRIVER if shutil.which(d)))
    driver = webdriver.Chrome(options=opts, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, js: str, timeout: float = 30):
    """Poll ``return <js>`` in the page until it is truthy; its value (None after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {js}")
        if value:
            return value
        time.sleep(0.1)
    return None


def open_page(driver, url: str, timeout: float = 30) -> None:
    """The page, loaded and with its models listed."""
    driver.get(url + "/")
    wait(driver, "document.querySelectorAll('#model option').length", timeout)


def upload(driver, url: str, photo: str | Path, model: str | None = None, timeout: float = 30):
    """Open the page, choose ``photo``; the faces the page lists ([{emotion, bars}]) once drawn."""
    from selenium.webdriver.common.by import By

    open_page(driver, url, timeout)
    if model:
        driver.execute_script(f"document.getElementById('model').value = {model!r}")
    driver.find_element(By.ID, "file").send_keys(str(Path(photo).resolve()))
    if not wait(driver, "document.getElementById('canvas').dataset.frames", timeout):
        raise EmojaxError(f"the page showed no prediction: {driver.find_element(By.ID, 'status').text}")
    return faces_listed(driver)


def album(driver, url: str, photos, amplify: bool = False, timeout: float = 120) -> dict:
    """Open the page, choose several ``photos`` at once (ticking "Make quiet expressions
    plainer" with ``amplify``); the /api/album answer the page drew, once drawn."""
    from selenium.webdriver.common.by import By

    open_page(driver, url, timeout)
    if amplify:
        driver.find_element(By.ID, "album-amplify").click()
    driver.find_element(By.ID, "file").send_keys("\n".join(str(Path(p).resolve()) for p in photos))
    answer = wait(driver, "window.emojax.album", timeout)
    if not answer:
        raise EmojaxError(f"the page showed no album: {driver.find_element(By.ID, 'status').text}")
    return answer


def faces_listed(driver) -> list[dict]:
    return driver.execute_script("""
        return [...document.querySelectorAll('#faces .face')].map(f => ({
          emotion: f.querySelector('.emotion').textContent,
          heading: f.querySelector('h3').textContent,
          bars: Object.fromEntries([...f.querySelectorAll('.row')].map(
            r => [r.dataset.emotion, r.querySelector('.bar').getBoundingClientRect().width]))}))""")


def webcam(driver, url: str, frames: int = 10, timeout: float = 60, amplify: bool = False) -> dict:
    """Open the page in webcam mode (ticking "Make quiet expressions plainer" with ``amplify``)
    and start the camera; after ``frames`` answered frames, {frames, fps, last (the last JSON
    answer), log (its lines), faces (as listed)}."""
    from selenium.webdriver.common.by import By

    open_page(driver, url, timeout)
    driver.find_element(By.ID, "mode-webcam").click()
    if amplify:
        driver.find_element(By.ID, "amplify").click()
    driver.find_element(By.ID, "cam-toggle").click()
    if not wait(driver, f"(+document.getElementById('canvas').dataset.frames || 0) >= {frames}", timeout):
        raise EmojaxError(f"the webcam page showed fewer than {frames} frames: "
                          f"{driver.find_element(By.ID, 'status').text}")
    return driver.execute_script("""
        const s = window.emojax;
        return {frames: s.drawn, fps: s.fps, last: s.last,
                log: document.getElementById('log').textContent.trim().split('\\n')}""") | {
        "faces": faces_listed(driver)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", default=str(PHOTO), help="the photo to upload and to film (default angry_man.jpg)")
    parser.add_argument("--model", action="append", help="as for python -m emojax.serve (default: the shipped CNN and SVM)")
    parser.add_argument("--album", nargs="+", default=[str(p) for p in ALBUM],
                        help="photos chosen at once for album.png (default angry_man.jpg and group_selfie.jpg)")
    parser.add_argument("--out", default=str(REPO / "results" / "web"), help="folder for upload.png, album.png "
                        "and webcam.png")
    args = parser.parse_args(argv)
    from emojax import serve

    for photo in (args.photo, *args.album):
        if not Path(photo).is_file():
            raise EmojaxError(f"no photo at {photo}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = serve.create_app(serve.parse_models(args.model))
    video = webcam_video(out / ".webcam.y4m", args.photo)
    try:
        with serve.running(app) as url, chromium(video, 1100, 820) as driver:
            faces = upload(driver, url, args.photo)
            time.sleep(0.3)
            with atomic_path(out / "upload.png") as tmp:
                _save_small(driver.get_screenshot_as_png(), tmp)
            print(f"upload: {faces[0]['emotion'] if faces else 'no face'} -> {out / 'upload.png'}")
            answer = album(driver, url, args.album)
            time.sleep(0.3)
            with atomic_path(out / "album.png") as tmp:
                _save_small(driver.get_screenshot_as_png(), tmp)
            print(f"album: {len(answer['photos'])} photos, {answer['faces']} faces -> {out / 'album.png'}")
            cam = webcam(driver, url, frames=25)
            with atomic_path(out / "webcam.png") as tmp:
                _save_small(driver.get_screenshot_as_png(), tmp)
            print(f"webcam: {cam['frames']} frames at {cam['fps']:.1f} frames/s, log: {cam['log'][-1]} "
                  f"-> {out / 'webcam.png'}")
    finally:
        video.unlink(missing_ok=True)
    return 0


def _save_small(png: bytes, path: Path) -> None:
    """A screenshot as a palette PNG (a few hundred KB at most)."""
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    try:
        from PIL import Image

        Image.fromarray(img[..., ::-1]).quantize(128).save(path, "PNG", optimize=True)
    except ImportError:
        cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    run(main)
