"use strict";
/* What the network sees: the input after the tag's preprocessing, the top-5, the first channels of
   every conv/pool stage (one colour scale per stage); a click on a map shows where that cell's
   receptive field lies on the input. Also the filters of a conv layer, for the detail panel. */
const ImageView = (() => {
  const { el } = Draw;
  let data, current = 0, inputZoom = 1;
  const cache = new Map();
  const bytesOf = (b64) => { if (!cache.has(b64)) cache.set(b64, Draw.bytes(b64)); return cache.get(b64); };

  function filtersFor(f) {
    const [f1, f2, d, k] = f.shape, channels = f.rgb ? 3 : 1, raw = bytesOf(f.data);
    const zoom = Draw.zoomFor(f1, f2, 36);
    const tiles = Array.from({ length: f.shown }, (_, i) => Draw.picture(raw, i * f1 * f2 * channels, f1, f2, channels, zoom));
    const how = f.rgb ? `in colour (RGB${f.bgr ? ", from a BGR kernel" : ""})` : `as the mean over the D1 = ${d} input channels`;
    return el("div", { class: "filters", dataset: { shown: f.shown } },
      el("p", { text: `${f.shown === k ? "its" : `the first ${f.shown} of its`} ${k} filters, ${f1}×${f2}×${d}, ${how}; each scaled to its own range:` }),
      el("div", { class: "tiles" }, tiles));
  }

  const hasMaps = (id) => data.images.length > 0 && data.images[current].maps.some((m) => m.row === id);

  function showField(rowId, y, x, channel) {
    const row = data.rows[rowId], rf = row.receptive_field, start = row.start;
    const img = data.images[current], [h, w] = img.input.shape;
    const box = document.getElementById("rf-box"), text = document.getElementById("rf-text");
    if (!rf || !start) { box.hidden = true; text.textContent = `${row.name}: its receptive field is not known`; return; }
    const top = start[0] + y * rf[0].jump, left = start[1] + x * rf[1].jump;
    const bottom = top + rf[0].size - 1, right = left + rf[1].size - 1;
    const ct = Math.max(0, top), cl = Math.max(0, left), cb = Math.min(h - 1, bottom), cr = Math.min(w - 1, right);
    const border = document.getElementById("rf-input").clientLeft;
    Object.assign(box.style, { top: `${border + ct * inputZoom}px`, left: `${border + cl * inputZoom}px`,
      height: `${(cb - ct + 1) * inputZoom}px`, width: `${(cr - cl + 1) * inputZoom}px` });
    Object.assign(box.dataset, { row: row.name, top, left, bottom, right });
    box.hidden = false;
    text.textContent = `${row.name}, channel ${channel}, cell (row ${y}, column ${x}) sees input rows ${top}…${bottom}, ` +
      `columns ${left}…${right}: a ${rf[0].size}×${rf[1].size} receptive field` +
      (top < 0 || left < 0 || bottom >= h || right >= w ? " (it reaches into the padding past the image's edge)" : "");
  }

  function stage(m) {
    const row = data.rows[m.row], [h, w, c] = m.shape, raw = bytesOf(m.data), zoom = Draw.zoomFor(h, w, 72);
    const maps = Array.from({ length: m.shown }, (_, k) => {
      const canvas = Draw.picture(raw, k * h * w, h, w, 1, zoom, true);
      canvas.dataset.channel = k;
      canvas.title = `${row.name} channel ${k}: click a cell for its receptive field`;
      canvas.addEventListener("click", (e) => {
        const r = canvas.getBoundingClientRect();   // the border box: the picture starts inside the border
        const x = Math.min(w - 1, Math.floor((e.clientX - r.left - canvas.clientLeft) / (canvas.clientWidth / w)));
        const y = Math.min(h - 1, Math.floor((e.clientY - r.top - canvas.clientTop) / (canvas.clientHeight / h)));
        showField(m.row, y, x, k);
      });
      return canvas;
    });
    return el("div", { class: "stage", id: `stage-${m.row}`, dataset: { name: row.name } },
      el("h4", {}, el("a", { href: "#network", onclick: () => Network.show(m.row), text: row.name }),
        ` ${h}×${w}×${c}` + (m.shown < c ? `, the first ${m.shown} of ${c} channels` : "") +
        ` (values ${m.min.toPrecision(3)} … ${m.max.toPrecision(3)}, one scale)`),
      el("div", { class: "maps" }, maps));
  }

  function view(i) {
    current = i;
    const img = data.images[i], [h, w, c] = img.input.shape;
    inputZoom = Draw.zoomFor(h, w, 224);
    const input = Draw.picture(bytesOf(img.input.data), 0, h, w, img.input.rgb ? 3 : 1, inputZoom);
    input.id = "rf-input";
    const top = el("table", { class: "top5", id: "top5", dataset: { top1: img.top.length ? img.top[0].label : "" } },
      img.top.map((t) => el("tr", { dataset: { label: t.label, index: t.index } },
        el("td", { text: t.label }), el("td", { class: "mono", text: `${(100 * t.probability).toFixed(1)}%` }),
        el("td", {}, el("span", { class: "bar", style: `width:${Math.round(100 * t.probability)}px` })))));
    const body = el("div", { class: "image-view", dataset: { image: img.name } },
      el("p", { class: "note", id: "image-note", text: img.note }),
      el("details", {}, el("summary", { text: "the tag's preprocessing" }), el("ol", {}, img.steps.map((s) => el("li", { text: s })))),
      el("div", { class: "img-top" },
        el("div", {}, el("div", { text: `the model's input, ${h}×${w}×${c}, after preprocessing` }),
          el("div", { class: "rf-wrap" }, input, el("div", { id: "rf-box", hidden: true }))),
        el("div", {}, el("div", { text: "top-5 classes" }), top)),
      el("p", { id: "rf-text", class: "hint", text: "Click a cell of a feature map to see its receptive field on the input." }),
      img.maps.map(stage));
    document.getElementById("image-view")?.remove();
    body.id = "image-view";
    document.getElementById("image-body").append(body);
  }

  function render(d) {
    data = d;
    const root = document.getElementById("image-body");
    if (!d.images.length) {
      root.append(el("p", { class: "hint", text: d.model.weights
        ? "Write the page with --image PHOTO (zoo page TAG --image PHOTO) to see this model's feature maps, " +
          "receptive fields and top-5 on your own image."
        : "This page shows the architecture only: it has no weights. Give a pretrained tag (zoo list --pretrained) " +
          "or a run folder, with --image PHOTO, to see feature maps and the top-5." }));
      return;
    }
    if (d.images.length > 1) {
      root.append(el("label", {}, "image ", el("select", { id: "image-select", onchange: (e) => view(Number(e.target.value)) },
        d.images.map((img, i) => el("option", { value: i, text: img.name })))));
    }
    view(0);
  }

  return { render, filtersFor, hasMaps };
})();
