// emojax web page: a photo and webcam frames go to POST /api/predict, several photos to POST
// /api/album; the JSON answer is drawn on a canvas (boxes, top emotion) and listed beside it
// (probability bars per face), an album's photos as thumbnails to pick from. Webcam
// frames carry a stream id made when the camera starts, so the server tracks and smooths the
// faces across them as `emojax live` does (and amplifies their expressions when asked).
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const state = { mode: "photo", stream: null, timer: null, inFlight: 0, sent: 0, drawn: 0,
                lastLog: 0, done: [], last: null, fps: 0, album: null };
window.emojax = state;   // for tests and the curious: the last answer, frames drawn, frames/s
const FRAME_MS = 100;      // webcam: a frame every 100 ms (10 fps) while fewer than MAX_IN_FLIGHT wait
const MAX_IN_FLIGHT = 2;
const CAM_WIDTH = 640;
const AMPLIFY = 3;         // "make quiet expressions plainer": the strength `emojax live --amplify 3` uses

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
function pct(p) { return Math.round(100 * p) + "%"; }
function clock(d = new Date()) { return d.toTimeString().slice(0, 8); }

async function loadModels() {
  try {
    const r = await fetch("api/models");
    const info = await r.json();
    const sel = $("model");
    for (const m of info.models) {
      const o = document.createElement("option");
      o.value = m.name;
      o.textContent = `${m.name} (${m.kind === "CNNClassifier" ? "CNN" : m.kind}, ${m.classes.length} classes)`;
      o.selected = m.name === info.default;
      sel.appendChild(o);
    }
  } catch (e) {
    setStatus("cannot list the models: " + e, true);
  }
}

function newStreamId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();   // secure contexts only
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

async function predict(body, contentType, upsample = 1, stream = null) {
  // photos: the detector on the image doubled once (small faces too, like emojax.predict);
  // webcam frames: upsample=0, like emojax.live (near faces, 3-4x faster), and a stream:
  // {id, t (the frame's time in seconds), amplify (a strength or null)}
  let url = `api/predict?upsample=${upsample}&model=` + encodeURIComponent($("model").value);
  if (stream) {
    url += `&stream=${encodeURIComponent(stream.id)}&t=${stream.t.toFixed(3)}`;
    if (stream.amplify) url += `&amplify=${stream.amplify}`;
  }
  const opts = { method: "POST", body };
  if (contentType) opts.headers = { "Content-Type": contentType };
  return post(url, opts);
}

async function post(url, opts) {
  const r = await fetch(url, opts);
  let out;
  try { out = await r.json(); } catch (e) { throw new Error(`server answered ${r.status}`); }
  if (!r.ok) throw new Error(out.error || `server answered ${r.status}`);
  return out;
}

// ------------------------------------------------------------------ drawing

function draw(source, result) {
  paint(canvas, source, result);
  listFaces(result);
  state.last = result;
  state.drawn += 1;
  canvas.dataset.frames = String(state.drawn);
}

// the image (or, where the browser cannot decode it, e.g. TIFF, a grey page) with each face's
// box, label and bars, at most maxWidth pixels wide
function paint(target, source, result, maxWidth = Infinity) {
  const k = Math.min(1, maxWidth / result.width), ctx = target.getContext("2d");
  target.width = Math.round(result.width * k);
  target.height = Math.round(result.height * k);
  ctx.setTransform(k, 0, 0, k, 0, 0);
  if (source) ctx.drawImage(source, 0, 0, result.width, result.height);
  else { ctx.fillStyle = "#ccc"; ctx.fillRect(0, 0, result.width, result.height); }
  const s = Math.max(result.width / 640, 1);
  ctx.lineWidth = 3 * s;
  ctx.font = `bold ${Math.round(16 * s)}px system-ui, sans-serif`;
  result.faces.forEach((f, i) => {
    const [l, t, r, b] = f.box;
    ctx.strokeStyle = "#2f9e44";
    ctx.strokeRect(l, t, r - l, b - t);
    const label = (result.faces.length > 1 ? `${faceNumber(f, i)}: ` : "") + `${cap(f.emotion)} ${pct(f.probability)}`;
    const w = ctx.measureText(label).width + 8 * s, h = 22 * s;
    const y = t >= h ? t - h : b;
    ctx.fillStyle = "#2f9e44";
    ctx.fillRect(l - ctx.lineWidth / 2, y, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, l + 4 * s, y + h - 6 * s);
    // probability bars beside the box
    const classes = Object.keys(f.probabilities), bh = 9 * s, room = 90 * s;
    const x0 = r + 6 * s + room <= result.width ? r + 6 * s : l - 6 * s - room >= 0 ? l - 6 * s - room : r - room;
    ctx.font = `${Math.round(10 * s)}px system-ui, sans-serif`;
    classes.forEach((c, j) => {
      const yy = t + j * (bh + 3 * s), v = f.probabilities[c];
      ctx.fillStyle = "#0008";
      ctx.fillRect(x0, yy, 60 * s, bh);
      ctx.fillStyle = c === f.emotion ? "#2f9e44" : "#f08c00";
      ctx.fillRect(x0, yy, 60 * s * v, bh);
      ctx.fillStyle = "#fff";
      ctx.fillText(c.slice(0, 3), x0 + 63 * s, yy + bh - 1);
    });
    ctx.font = `bold ${Math.round(16 * s)}px system-ui, sans-serif`;
  });
}

// a tracked face keeps its number while in view (`track`, webcam streams); a photo's faces count from 1
function faceNumber(f, i) { return f.track !== undefined ? f.track : i + 1; }

function listFaces(result) {
  const box = $("faces");
  box.replaceChildren();
  if (!result.faces.length) {
    const p = document.createElement("p");
    p.className = "noface";
    p.textContent = "No face found.";
    box.appendChild(p);
  }
  result.faces.forEach((f, i) => {
    const div = document.createElement("div");
    div.className = "face";
    const h = document.createElement("h3");
    h.innerHTML = `${result.faces.length > 1 ? `Face ${faceNumber(f, i)}: ` : ""}<span class="emotion"></span> <span class="prob"></span>`;
    h.querySelector(".emotion").textContent = f.emotion;
    h.querySelector(".prob").textContent = pct(f.probability);
    if (f.amplified) {
      const note = document.createElement("small");
      note.className = "amplified";
      note.textContent = ` amplified x${AMPLIFY}`;
      h.appendChild(note);
    }
    div.appendChild(h);
    for (const [c, v] of Object.entries(f.probabilities)) {
      const row = document.createElement("div");
      row.className = "row" + (c === f.emotion ? " top" : "");
      row.dataset.emotion = c;
      row.innerHTML = `<span class="name"></span><span class="track"><span class="bar"></span></span><span class="pct"></span>`;
      row.querySelector(".name").textContent = cap(c);
      row.querySelector(".bar").style.width = (100 * v).toFixed(1) + "%";
      row.querySelector(".bar").style.display = "block";
      row.querySelector(".pct").textContent = pct(v);
      div.appendChild(row);
    }
    box.appendChild(div);
  });
}

// ------------------------------------------------------------------ photo mode

// the file as the browser decodes it for a canvas, null where it cannot (the server still can)
async function bitmap(file) {
  try { return await createImageBitmap(file, { imageOrientation: "from-image" }); } catch (e) { return null; }
}

function putAlbumAway() {
  $("album").hidden = true;
  state.album = null;
}

async function photo(file) {
  if (!file) return;
  putAlbumAway();
  setStatus(`Sending ${file.name}...`);
  const form = new FormData();
  form.append("file", file);
  try {
    const result = await predict(form);   // the server's error, if any, comes first
    draw(await bitmap(file), result);
    const n = result.faces.length;
    setStatus(`${n} face${n === 1 ? "" : "s"} in ${result.width}x${result.height} (${result.time_ms} ms, model ${result.model})`);
  } catch (e) {
    setStatus(e.message || String(e), true);
  }
}

// several photos: one /api/album request (amplified against each person's other photos when
// ticked); each photo a thumbnail, the one picked drawn large with its faces listed
async function photos(files) {
  files = [...files];
  if (files.length < 2) return photo(files[0]);
  const amplify = $("album-amplify").checked;
  putAlbumAway();   // until the new one is drawn
  setStatus(`Sending ${files.length} photos${amplify ? " (finding who is who)" : ""}...`);
  const form = new FormData();
  files.forEach((f) => form.append("files", f));
  let url = "api/album?model=" + encodeURIComponent($("model").value);
  if (amplify) url += `&amplify=${AMPLIFY}`;
  try {
    const result = await post(url, { method: "POST", body: form });
    const images = await Promise.all(files.map(bitmap));
    const strip = $("album");
    strip.replaceChildren();
    const pick = (i) => {
      strip.querySelectorAll(".thumb").forEach((t, j) => t.classList.toggle("selected", i === j));
      draw(images[i], result.photos[i]);
    };
    result.photos.forEach((ph, i) => {
      const fig = document.createElement("figure"), c = document.createElement("canvas");
      const caption = document.createElement("figcaption");
      fig.className = "thumb";
      paint(c, images[i], ph, 320);
      caption.textContent = `${ph.name}: ` + (ph.faces.map((f) => f.emotion).join(", ") || "no face");
      fig.append(c, caption);
      fig.addEventListener("click", () => pick(i));
      strip.appendChild(fig);
    });
    strip.hidden = false;
    state.album = result;
    pick(0);
    const n = result.faces;
    let text = `${result.photos.length} photos, ${n} face${n === 1 ? "" : "s"}`;
    if (result.people !== undefined) text += `, ${result.people} ${result.people === 1 ? "person" : "people"} found by face, ${result.amplified} made plainer`;
    setStatus(text + ` (${result.time_ms} ms, model ${result.model})`);
  } catch (e) {
    setStatus(e.message || String(e), true);
  }
}

$("file").addEventListener("change", (e) => {
  const files = [...e.target.files];
  e.target.value = "";   // so that choosing the same photo again is a new choice
  photos(files);
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  photos(e.dataTransfer.files);
});

// ------------------------------------------------------------------ webcam mode

function logLines(result) {
  const now = Date.now();
  if (now - state.lastLog < 1000) return;   // like `python -m emojax.live`: every second
  state.lastLog = now;
  const t = clock(), faces = result.faces;
  const lines = faces.length ? faces.map((f, i) =>
    `${t} : ${faces.length > 1 ? `face ${faceNumber(f, i)} : ` : ""}${cap(f.emotion)} , ${pct(f.probability)}`) : [`${t} : no face`];
  const log = $("log");
  log.textContent += lines.join("\n") + "\n";
  const all = log.textContent.split("\n");
  if (all.length > 300) log.textContent = all.slice(-300).join("\n");
  log.scrollTop = log.scrollHeight;
}

function sendFrame() {
  const video = $("video");
  if (!state.stream || state.inFlight >= MAX_IN_FLIGHT || video.readyState < 2 || !video.videoWidth) return;
  const w = Math.min(CAM_WIDTH, video.videoWidth), h = Math.round(video.videoHeight * w / video.videoWidth);
  const frame = document.createElement("canvas");
  frame.width = w;
  frame.height = h;
  frame.getContext("2d").drawImage(video, 0, 0, w, h);
  const id = ++state.sent;
  const stream = { id: state.streamId, t: performance.now() / 1000, amplify: $("amplify").checked ? AMPLIFY : null };
  state.inFlight += 1;
  frame.toBlob(async (blob) => {
    try {
      const result = await predict(blob, "image/jpeg", 0, stream);
      if (state.stream && id > state.lastDrawnId) {
        state.lastDrawnId = id;
        draw(frame, result);
        logLines(result);
        state.done.push(performance.now());
        const since = performance.now() - 2000;
        state.done = state.done.filter((x) => x > since);
        const d = state.done;
        state.fps = d.length > 1 ? (d.length - 1) / ((d[d.length - 1] - d[0]) / 1000) : 0;
        $("fps").textContent = `${state.fps.toFixed(1)} frames/s, ${result.time_ms} ms on the server`;
        const learning = stream.amplify && result.faces.some((f) => !f.amplified);
        setStatus(learning ? "Learning the usual look of each face (a few seconds)..." : "");
      }
    } catch (e) {
      setStatus(e.message || String(e), true);
    } finally {
      state.inFlight -= 1;
    }
  }, "image/jpeg", 0.85);
}

async function startCamera() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    setStatus("no camera: " + (e.message || e.name || e), true);
    return;
  }
  $("video").srcObject = state.stream;
  state.lastDrawnId = 0;
  state.streamId = newStreamId();   // a new stream: the server starts tracking afresh
  state.timer = setInterval(sendFrame, FRAME_MS);
  $("cam-toggle").textContent = "Stop camera";
  $("log").hidden = false;
  setStatus("Camera on");
}

function stopCamera() {
  clearInterval(state.timer);
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("video").srcObject = null;
  $("cam-toggle").textContent = "Start camera";
  $("fps").textContent = "";
}

$("cam-toggle").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));

function setMode(mode) {
  state.mode = mode;
  $("photo-panel").hidden = mode !== "photo";
  $("webcam-panel").hidden = mode !== "webcam";
  $("mode-photo").classList.toggle("active", mode === "photo");
  $("mode-webcam").classList.toggle("active", mode === "webcam");
  if (mode === "photo") stopCamera();
}

$("mode-photo").addEventListener("click", () => setMode("photo"));
$("mode-webcam").addEventListener("click", () => setMode("webcam"));
const fromHash = () => setMode(location.hash === "#webcam" ? "webcam" : "photo");
window.addEventListener("hashchange", fromHash);
fromHash();

loadModels();
