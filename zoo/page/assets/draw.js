"use strict";
/* Small drawing helpers shared by the page's parts: elements, volumes as boxes, byte images. */
const Draw = (() => {
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) { if (dv !== undefined) node.dataset[dk] = dv; }
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  // A scale from values to pixels: linear when the values span less than 8×, else logarithmic.
  function scale(values, minPx, maxPx) {
    const vs = values.filter((v) => v > 0);
    const lo = Math.min(...vs, 1), hi = Math.max(...vs, 1);
    const log = hi / lo > 8;
    const f = (v) => {
      if (hi === lo) return maxPx;
      const t = log ? Math.log(v / lo) / Math.log(hi / lo) : (v - lo) / (hi - lo);
      return Math.round(minPx + (maxPx - minPx) * Math.max(0, Math.min(1, t)));
    };
    f.log = log;
    return f;
  }

  // A volume H×W×D as an oblique box: front face W wide and H high, D going back; a vector
  // (one axis) as a bar, `factor` times the scales' size. Returns the svg with data-px="w,h,d" (its drawn sizes).
  function cube(shape, spatialScale, depthScale, color, factor = 1) {
    const isVector = shape.length === 1, px = (v) => Math.max(2, Math.round(v * factor));
    const h = px(isVector ? depthScale(shape[0]) : spatialScale(shape[0]));
    const w = px(isVector ? 6 : spatialScale(shape.length > 2 ? shape[1] : 1));
    const d = isVector ? 0 : px(depthScale(shape[shape.length - 1]));
    const dx = Math.round(d * 0.7), dy = Math.round(d * 0.45);
    const box = svg("svg", { width: w + dx + 2, height: h + dy + 2, viewBox: `-1 -1 ${w + dx + 2} ${h + dy + 2}`,
      "aria-hidden": "true", "data-px": `${w},${h},${d}` });
    box.append(svg("polygon", { class: "cube-top", fill: color, "fill-opacity": ".55",
      points: `0,${dy} ${dx},0 ${dx + w},0 ${w},${dy}` }));
    box.append(svg("polygon", { class: "cube-side", fill: color, "fill-opacity": ".35",
      points: `${w},${dy} ${dx + w},0 ${dx + w},${h} ${w},${h + dy}` }));
    box.append(svg("rect", { class: "cube-front", fill: color, "fill-opacity": ".85", x: 0, y: dy, width: w, height: h }));
    return box;
  }

  // viridis, as a polynomial (within 1.3% of matplotlib's table), t in 0..1 -> [r, g, b] 0..255.
  const C = [[0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832]];
  const VIRIDIS = Array.from({ length: 256 }, (_, i) => {
    const t = i / 255;
    return [0, 1, 2].map((c) => Math.round(255 * Math.max(0, Math.min(1,
      C.reduceRight((acc, coef) => acc * t + coef[c], 0)))));
  });

  function bytes(b64) {
    const raw = atob(b64), out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // An h×w image from `data` (uint8, channels interleaved) at `offset`, `channels` 1 (grey, or
  // viridis when `colormap`) or 3 (RGB), drawn `zoom` times larger.
  function picture(data, offset, h, w, channels, zoom, colormap = false) {
    const canvas = el("canvas", { width: w, height: h });
    canvas.style.width = `${w * zoom}px`;
    canvas.style.height = `${h * zoom}px`;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    for (let i = 0; i < h * w; i++) {
      const o = offset + i * channels;
      const [r, g, b] = channels === 3 ? [data[o], data[o + 1], data[o + 2]]
        : colormap ? VIRIDIS[data[o]] : [data[o], data[o], data[o]];
      img.data.set([r, g, b, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  const zoomFor = (h, w, target) => Math.max(1, Math.min(16, Math.floor(target / Math.max(h, w))));

  return { el, svg, scale, cube, bytes, picture, zoomFor, VIRIDIS };
})();
