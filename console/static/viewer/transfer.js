// The 3D transfer function editor: opacity (and colour) against intensity, drawn over the histogram.
//
// Points are {value, alpha, colour}; drag a point, double-click to add one, right-click to remove one.
// `colormap()` turns the points into a NiiVue colormap over [first point, last point].

const DEFAULT_POINTS = [
  { value: -300, alpha: 0, colour: [120, 60, 40] },
  { value: 100, alpha: 40, colour: [200, 120, 90] },
  { value: 300, alpha: 140, colour: [240, 220, 190] },
  { value: 1500, alpha: 255, colour: [255, 255, 255] },
];

export class TransferEditor {
  constructor(canvas, colourInput, onChange) {
    this.canvas = canvas;
    this.colourInput = colourInput;
    this.onChange = onChange;
    this.range = [-1024, 3071];
    this.histogram = [];
    this.reset(false);
    this.selected = null;
    this.dragging = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", () => { this.dragging = null; });
    canvas.addEventListener("dblclick", (e) => this.add(e));
    canvas.addEventListener("contextmenu", (e) => this.remove(e));
    colourInput.addEventListener("input", () => this.recolour());
  }

  reset(notify = true) {
    this.points = DEFAULT_POINTS.map((p) => ({ ...p, colour: [...p.colour] }));
    this.draw();
    if (notify) this.onChange();
  }

  setData(voxels, low, high) {
    this.range = [low, high];
    const bins = new Array(this.canvas.width).fill(0);
    const scale = bins.length / (high - low || 1);
    const stride = Math.max(1, Math.floor(voxels.length / 2_000_000));
    for (let i = 0; i < voxels.length; i += stride) {
      const bin = Math.floor((voxels[i] - low) * scale);
      if (bin >= 0 && bin < bins.length) bins[bin] += 1;
    }
    const top = Math.log1p(Math.max(...bins));
    this.histogram = bins.map((n) => Math.log1p(n) / (top || 1));
    this.draw();
  }

  x(value) { return ((value - this.range[0]) / (this.range[1] - this.range[0])) * this.canvas.width; }
  y(alpha) { return this.canvas.height - (alpha / 255) * this.canvas.height; }
  at(event) {
    const box = this.canvas.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * this.canvas.width;
    const py = ((event.clientY - box.top) / box.height) * this.canvas.height;
    const value = this.range[0] + (px / this.canvas.width) * (this.range[1] - this.range[0]);
    const alpha = Math.min(255, Math.max(0, 255 * (1 - py / this.canvas.height)));
    return { px, py, value, alpha };
  }
  nearest(event) {
    const { px, py } = this.at(event);
    let best = null;
    for (const p of this.points) {
      const d = Math.hypot(this.x(p.value) - px, this.y(p.alpha) - py);
      if (d < 10 && (!best || d < best.d)) best = { p, d };
    }
    return best ? best.p : null;
  }

  down(event) {
    const point = this.nearest(event);
    if (!point) return;
    this.selected = this.dragging = point;
    this.colourInput.value = "#" + point.colour.map((c) => c.toString(16).padStart(2, "0")).join("");
    this.canvas.setPointerCapture(event.pointerId);
    this.draw();
  }

  move(event) {
    if (!this.dragging) return;
    const { value, alpha } = this.at(event);
    this.dragging.value = Math.round(value);
    this.dragging.alpha = Math.round(alpha);
    this.points.sort((a, b) => a.value - b.value);
    this.draw();
    this.onChange();
  }

  add(event) {
    const { value, alpha } = this.at(event);
    this.points.push({ value: Math.round(value), alpha: Math.round(alpha), colour: [255, 255, 255] });
    this.points.sort((a, b) => a.value - b.value);
    this.draw();
    this.onChange();
  }

  remove(event) {
    event.preventDefault();
    const point = this.nearest(event);
    if (!point || this.points.length <= 2) return;
    this.points = this.points.filter((p) => p !== point);
    this.draw();
    this.onChange();
  }

  recolour() {
    if (!this.selected) return;
    const hex = this.colourInput.value;
    this.selected.colour = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    this.draw();
    this.onChange();
  }

  // NiiVue colormap: intensities between the first and the last point map onto I = 0..255.
  colormap() {
    const low = this.points[0].value;
    const high = this.points[this.points.length - 1].value;
    const span = high - low || 1;
    const cmap = { R: [], G: [], B: [], A: [], I: [] };
    for (const p of this.points) {
      cmap.R.push(p.colour[0]); cmap.G.push(p.colour[1]); cmap.B.push(p.colour[2]);
      cmap.A.push(p.alpha);
      cmap.I.push(Math.round(((p.value - low) / span) * 255));
    }
    return { cmap, low, high };
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = "#3a4754";
    this.histogram.forEach((h, i) => ctx.fillRect(i, height - h * height, 1, h * height));
    ctx.strokeStyle = "#f2a900";
    ctx.lineWidth = 2;
    ctx.beginPath();
    this.points.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, this.x(p.value), this.y(p.alpha)));
    ctx.stroke();
    for (const p of this.points) {
      ctx.fillStyle = `rgb(${p.colour.join(",")})`;
      ctx.strokeStyle = p === this.selected ? "#f2a900" : "#000";
      ctx.beginPath();
      ctx.arc(this.x(p.value), this.y(p.alpha), 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }
}
