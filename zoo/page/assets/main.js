"use strict";
/* The page's start: the data written by cnn_zoo.page, the header (model, provenance, version),
   then the network, the playground and the image. */
(() => {
  const { el } = Draw;
  const data = JSON.parse(document.getElementById("zoo-data").textContent);

  function metrics(m) {
    if (!m || !Object.keys(m).length) return "not recorded";
    const values = Object.entries(m).filter(([, v]) => typeof v === "number" && !Number.isInteger(v))
      .map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", ");
    return `${m.split || "?"}${m.examples ? ` (${Arith.group(m.examples)} examples)` : ""}: ${values}` +
      (m.measured_by ? ` (measured by ${m.measured_by})` : "");
  }

  function header() {
    const m = data.model, p = data.provenance, v = data.version;
    const sub = m.kind === "tag" ? `pretrained weights of ${p.arch}, ${p.classes} classes`
      : m.kind === "run" || (p && p.kind === "run") ? `a training run of ${m.arch}${p ? `, ${p.classes} classes` : ""}`
        : m.weights ? `a loaded ${m.arch} model` : `the ${m.arch} architecture (no weights: built with shapes only, as zoo info does)`;
    const rows = [];
    const add = (k, val) => { if (val) rows.push(el("dt", { text: k }), el("dd", { text: val })); };
    if (p) {
      add("publisher", p.publisher);
      if (p.dataset) {
        add("dataset", `${p.dataset.name} (${p.dataset.source}), licence ${p.dataset.license}` +
          (p.dataset.attribution ? `, ${p.dataset.attribution}` : ""));
      }
      add("metrics", metrics(p.metrics));
      add("weights", p.kind === "tag"
        ? (p.sha256 ? `${p.file}, ${Arith.group(p.size)} bytes` : `${p.file}, converted on the first pull from ${p.url}`)
        : p.file);
      add("sha256", p.sha256 || "");
      add("recipe", p.recipe || "");
      add("made", p.created ? `${p.created} with Keras ${p.keras_version}${p.backend ? ` on ${p.backend}` : ""}` : "");
      if (p.run) add("run folder", p.run);
    }
    if (data.preprocessing) add("preprocessing", data.preprocessing.described.join("; ") || "none");
    add("written by", `cnn-zoo ${v.cnn_zoo}${v.git ? ` (git ${v.git})` : ""}, Keras ${v.keras} on ${v.backend}`);
    const head = document.getElementById("header");
    head.append(el("h1", { id: "model-name", text: m.name }), el("p", { class: "sub", text: sub }),
      el("dl", { class: "prov", id: "provenance" }, rows));
    document.getElementById("footer").textContent = `Written by zoo page (cnn-zoo ${v.cnn_zoo}). ` +
      "One file: it makes no network request and works offline.";
  }

  header();
  Network.render(data);
  Playground.init();
  ImageView.render(data);
  window.zooPage = { data, ready: true, show: Network.show, runCase: Playground.runCase };
})();
