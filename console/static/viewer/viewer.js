// The viewer page: NiiVue (vendored, WebGL2) showing one series of a study or job output, with its SEG.
//
// Loading: the manifest names the series; the preview level (≤ 2 M voxels) is drawn first, then the
// level this browser can afford replaces it (full resolution on a GPU, "medium" on a software renderer).
// The page's state is on #viewer[data-state]: loading -> preview -> ready (or error); the time of the
// first drawn image is #viewer[data-first-image-ms] (performance.now(), for the benchmark and tests).

import { Niivue, SHOW_RENDER, DRAG_MODE } from "/static/vendor/niivue/niivue.js";
import { labelColormap } from "/static/viewer/labels.js";
import { TransferEditor } from "/static/viewer/transfer.js";

const root = document.getElementById("viewer");
const api = `/viewer/api/${encodeURIComponent(root.dataset.source)}/${encodeURIComponent(root.dataset.item)}`;
const $ = (id) => document.getElementById(id);
const PRESETS = { lung: [1500, -600], soft: [400, 40], bone: [1800, 400], brain: [80, 40] };
const TF_COLORMAP = "openclara-transfer";

const state = {
  manifest: null, series: null, seg: null, meaning: null, visible: new Set(), opacity: 0.5,
  window: PRESETS.soft, view: "mpr", level: null, generation: 0, measurements: [],
};

const nv = new Niivue({
  backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: false, dragAndDropEnabled: false,
  logLevel: "warn", loadingText: "Loading...", multiplanarShowRender: SHOW_RENDER.NEVER,
  isOrientCube: false, crosshairWidth: 1, clipPlaneColor: [0, 0, 0, 0], // the crop box cuts, no shaded planes
});
const timings = {}; // performance.now() at each step of the first load, for the benchmark
const mark = (name) => { if (!(name in timings)) timings[name] = performance.now(); };
window.openclaraViewer = { nv, state, timings }; // for the benchmark and the browser tests

function say(text, failed = false) {
  const status = $("live-status");
  if (status) { status.textContent = text; status.classList.toggle("error", failed); }
  if (failed) root.dataset.state = "error";
}

async function json(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    throw new Error(detail);
  }
  return response.json();
}

function softwareRenderer() {
  const gl = nv.gl;
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return /swiftshader|llvmpipe|software/i.test(String(name));
}

// The levels to load, smallest first, skipping a level no finer than the one before.
function plan(series) {
  const steps = series.levels;
  const last = softwareRenderer() ? "medium" : "full";
  const wanted = last === "full" ? ["preview", "medium", "full"] : ["preview", "medium"];
  const out = [];
  for (const level of wanted) {
    if (!out.length || steps[level] < steps[out[out.length - 1]]) out.push(level);
  }
  // A GPU goes from the preview straight to full resolution.
  return last === "full" && out.length > 2 ? [out[0], out[out.length - 1]] : out;
}

async function buffer(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    throw new Error(detail);
  }
  return response.arrayBuffer();
}

// A level's bytes (the CT and, if there is one, its SEG's labels), fetched while something else runs.
function fetchLevel(level) {
  const ct = buffer(`${api}/series/${state.series.key}/${level}.nii`);
  const labels = state.seg ? buffer(`${api}/labels/${state.seg.key}/${level}.nii`) : Promise.resolve(null);
  return Promise.all([ct, labels]).then(([ctBytes, labelBytes]) => ({ level, ctBytes, labelBytes }));
}

async function showLevel({ level, ctBytes, labelBytes }) {
  const generation = state.generation;
  const keep = nv.volumes.length ? [...nv.scene.crosshairPos] : null;
  const list = [{ url: ctBytes, name: `${level}.nii`, colormap: "gray" }];
  if (labelBytes) list.push({ url: labelBytes, name: `labels-${level}.nii`, colormap: "gray", opacity: state.opacity });
  await nv.loadVolumes(list);
  mark(`loaded-${level}`);
  if (generation !== state.generation) return false;
  state.level = level;
  if (keep) nv.scene.crosshairPos = keep;
  applyWindow();
  applyLabels();
  applyView();
  nv.drawScene();
  return true;
}

function applyWindow() {
  const volume = nv.volumes[0];
  if (!volume) return;
  if (isRender()) {
    const { cmap, low, high } = transfer.colormap();
    nv.addColormap(TF_COLORMAP, cmap);
    volume.colormap = TF_COLORMAP;
    volume.cal_min = low; volume.cal_max = high;
  } else {
    const [width, level] = state.window;
    volume.colormap = "gray";
    volume.cal_min = level - width / 2; volume.cal_max = level + width / 2;
  }
  $("window-width").value = Math.round(state.window[0]);
  $("window-level").value = Math.round(state.window[1]);
  nv.updateGLVolume();
}

function applyLabels() {
  const overlay = nv.volumes[1];
  if (!overlay || !state.meaning) return;
  overlay.setColormapLabel(labelColormap(state.meaning, state.visible));
  nv.setOpacity(1, state.opacity);
  nv.updateGLVolume();
}

const isRender = () => state.view === "render" || state.view === "mpr3d";

function applyView() {
  const types = { mpr: nv.sliceTypeMultiplanar, axial: nv.sliceTypeAxial, coronal: nv.sliceTypeCoronal,
                  sagittal: nv.sliceTypeSagittal, render: nv.sliceTypeRender, mpr3d: nv.sliceTypeMultiplanar };
  nv.opts.multiplanarShowRender = state.view === "mpr3d" ? SHOW_RENDER.ALWAYS : SHOW_RENDER.NEVER;
  nv.setSliceType(types[state.view]);
  $("render-panel").classList.toggle("active", isRender());
}

// The crop box: one clip plane per moved slider. NiiVue keeps the side where dot(n, p - 0.5) > depth
// (p in texture space 0..1, laid out RAS), n given as azimuth/elevation: +x is (90, 0), +y (180, 0),
// +z (0, -90). A lower bound keeps p > low (n = +axis, depth = low - 0.5); an upper bound keeps p < high
// (n = -axis, depth = 0.5 - high).
const CROP_NORMALS = { x: [[90, 0], [270, 0]], y: [[180, 0], [0, 0]], z: [[0, -90], [0, 90]] };

function applyCrop() {
  const value = (axis, end) => Number(document.querySelector(`[data-crop="${axis}"][data-end="${end}"]`).value);
  const planes = [];
  for (const axis of ["x", "y", "z"]) {
    const [low, high] = [value(axis, "low"), value(axis, "high")];
    const [[aziUp, eleUp], [aziDown, eleDown]] = CROP_NORMALS[axis];
    if (low > 0) planes.push([low - 0.5, aziUp, eleUp]);
    if (high < 1) planes.push([0.5 - high, aziDown, eleDown]);
  }
  nv.setClipPlanes(planes.length ? planes : [[2, 0, 0]]);
  nv.drawScene();
}

// Slider input arrives faster than a software renderer draws a 3D frame: apply at most once per frame.
let cropQueued = false;
function queueCrop() {
  if (cropQueued) return;
  cropQueued = true;
  requestAnimationFrame(() => { cropQueued = false; applyCrop(); });
}

function renderSegments() {
  const list = $("segments");
  list.replaceChildren();
  const segments = state.meaning ? state.meaning.segments : [];
  $("seg-none").hidden = segments.length > 0;
  $("seg-opacity-label").hidden = segments.length === 0;
  for (const segment of segments) {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.visible.has(segment.number);
    box.dataset.segment = segment.number;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${segment.colour.join(",")})`;
    label.append(box, swatch, document.createTextNode(` ${segment.label}`));
    item.append(label);
    list.append(item);
  }
}

function setPressed(attribute, value) {
  for (const button of document.querySelectorAll(`[${attribute}]`)) {
    button.setAttribute("aria-pressed", String(button.getAttribute(attribute) === value));
  }
}

// Area: NiiVue draws the dragged region as the ellipse inside the drag's box, on one slice; its axes come
// from the box's millimetre corners in that slice's plane (the axis across the slice has no extent).
function recordArea(drag) {
  const a = drag.mmStart, b = drag.mmEnd;
  const d = [Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2])];
  const [width, height] = d.slice().sort((x, y) => y - x).slice(0, 2);
  const ellipse = (Math.PI * width * height) / 4;
  addMeasurement(`Area ${ellipse.toFixed(1)} mm² (ellipse ${width.toFixed(1)} × ${height.toFixed(1)} mm;` +
                 ` its box ${(width * height).toFixed(1)} mm²)`);
}

function addMeasurement(text) {
  state.measurements.push(text);
  const item = document.createElement("li");
  item.textContent = text;
  $("measurements").append(item);
  $("viewer-readout").textContent = text;
}

// Open an image series: the preview's bytes are fetched while `ready` (NiiVue compiling its shaders) runs.
async function openSeries(key, ready = Promise.resolve()) {
  state.generation += 1;
  state.series = state.manifest.series.find((s) => s.key === key);
  state.seg = state.manifest.series.find((s) => s.segmentation && s.references === key) || null;
  state.meaning = null;
  state.window = state.series.modality === "CT" ? PRESETS.soft : state.window;
  const meaning = state.seg ? json(`${api}/labels/${state.seg.key}/segments.json`) : Promise.resolve(null);
  let pending = fetchLevel("preview");
  await ready;
  state.meaning = await meaning;
  state.visible = new Set(state.meaning ? state.meaning.segments.map((s) => s.number) : []);
  renderSegments();
  const levels = plan(state.series);
  for (const [index, level] of levels.entries()) {
    say(index === levels.length - 1 ? "" : `Loading ${levels[levels.length - 1]} resolution...`);
    const data = await pending;
    if (index + 1 < levels.length) pending = fetchLevel(levels[index + 1]); // the next level downloads meanwhile
    if (!(await showLevel(data))) return;
    if (index === 0 && !root.dataset.firstImageMs) {
      nv.gl.finish();
      root.dataset.firstImageMs = String(performance.now());
      root.dataset.state = "preview";
      hideKeyImage();
    }
  }
  // Offered only where it adds detail: a software renderer that stopped below full resolution.
  $("full-resolution").hidden = state.series.levels[state.level] === 1;
  root.dataset.state = "ready";
  root.dataset.level = state.level;
}

function wire() {
  $("series-select").addEventListener("change", (e) => openSeries(e.target.value).catch((err) => say(err.message, true)));
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", () => {
      state.view = button.dataset.view;
      setPressed("data-view", state.view);
      applyView();
      applyWindow();
      applyCrop();
    });
  }
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => { state.window = PRESETS[button.dataset.preset]; applyWindow(); });
  }
  for (const id of ["window-width", "window-level"]) {
    $(id).addEventListener("change", () => {
      state.window = [Math.max(1, Number($("window-width").value)), Number($("window-level").value)];
      applyWindow();
    });
  }
  for (const button of document.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => {
      const tool = button.dataset.tool;
      setPressed("data-tool", tool);
      nv.opts.dragModePrimary = { crosshair: DRAG_MODE.crosshair, distance: DRAG_MODE.measurement,
                                  area: DRAG_MODE.roiSelection }[tool];
    });
  }
  $("clear-measurements").addEventListener("click", () => {
    nv.clearAllMeasurements();
    state.measurements = [];
    $("measurements").replaceChildren();
    $("viewer-readout").textContent = "";
    nv.drawScene();
  });
  $("full-resolution").addEventListener("click", async () => {
    $("full-resolution").disabled = true;
    say("Loading full resolution…");
    try {
      await showLevel(await fetchLevel("full"));
      say("");
      root.dataset.level = "full";
      $("full-resolution").hidden = true;
    } catch (err) { say(err.message, true); }
  });
  $("segments").addEventListener("change", (e) => {
    const number = Number(e.target.dataset.segment);
    if (e.target.checked) state.visible.add(number); else state.visible.delete(number);
    applyLabels();
  });
  $("seg-opacity").addEventListener("input", (e) => { state.opacity = Number(e.target.value); applyLabels(); });
  for (const input of document.querySelectorAll("[data-crop]")) input.addEventListener("input", queueCrop);
  $("tf-reset").addEventListener("click", () => transfer.reset());
  nv.onMeasurementCompleted = (m) => addMeasurement(`Distance ${m.distance.toFixed(1)} mm`);
  nv.onDragRelease = (drag) => { if (nv.opts.dragModePrimary === DRAG_MODE.roiSelection) recordArea(drag); };
  nv.onLocationChange = (location) => {
    if (!state.measurements.length) $("viewer-readout").textContent = location.string || "";
  };
}

const transfer = new TransferEditor($("tf-editor"), $("tf-colour"), () => { if (isRender()) applyWindow(); });

// The key image (a server-drawn slice) stands in until NiiVue draws; the time it arrived is recorded.
const keyImage = $("key-image");
function hideKeyImage() {
  const entry = performance.getEntriesByName(keyImage.src)[0];
  if (entry && keyImage.naturalWidth) root.dataset.keyImageMs = String(entry.responseEnd);
  keyImage.hidden = true;
}
keyImage.addEventListener("error", () => { keyImage.hidden = true; });
if (keyImage.complete && !keyImage.naturalWidth) keyImage.hidden = true;

async function main() {
  wire();
  mark("script");
  const attached = nv.attachToCanvas($("viewer-canvas")).then(() => mark("attached"));
  state.manifest = await json(`${api}/manifest`);
  mark("manifest");
  const images = state.manifest.series.filter((s) => !s.segmentation);
  if (!images.length) throw new Error("nothing to show: no image series among these files");
  const select = $("series-select");
  for (const series of images) {
    const option = document.createElement("option");
    option.value = series.key;
    option.textContent = `${series.modality} ${series.description || "(no description)"} · ${series.instances} images`;
    select.append(option);
  }
  select.value = state.manifest.default;
  await openSeries(state.manifest.default, attached);
  const ct = nv.volumes[0];
  if (ct) transfer.setData(ct.img, Math.max(-1024, ct.global_min ?? -1024), Math.min(3071, ct.global_max ?? 3071));
}

main().catch((error) => say(`The viewer could not open this item: ${error.message}`, true));
