// Segment colours for the SEG overlay: a NiiVue label colormap built from the server's segments.json.
//
// "bits" encoding: a voxel's value has bit (i) set when it lies in segment i+1 (segments may overlap);
// the voxel takes the colour of the smallest visible segment it belongs to. "index" encoding: the value
// is a segment number.

export function labelColormap(meaning, visible) {
  const segments = meaning.segments;
  const cmap = { R: [], G: [], B: [], A: [], I: [], labels: [] };
  const push = (value, segment) => {
    const [r, g, b] = segment ? segment.colour : [0, 0, 0];
    cmap.R.push(r); cmap.G.push(g); cmap.B.push(b);
    cmap.A.push(segment ? 255 : 0);
    cmap.I.push(value);
    cmap.labels.push(segment ? segment.label : "");
  };
  if (meaning.encoding === "bits") {
    const byArea = segments.map((s, bit) => ({ ...s, bit })).sort((a, b) => a.voxels - b.voxels);
    for (let value = 0; value < 2 ** segments.length; value += 1) {
      push(value, byArea.find((s) => (value >> s.bit) & 1 && visible.has(s.number)));
    }
  } else {
    const top = Math.max(0, ...segments.map((s) => s.number));
    for (let value = 0; value <= top; value += 1) {
      push(value, segments.find((s) => s.number === value && visible.has(s.number)));
    }
  }
  return cmap;
}
