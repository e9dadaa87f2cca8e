"use strict";
/* The network as volumes: one box per row of the model card (scaled to its H×W×D), blocks with
   their branches side by side above the row that joins them; a click opens the row's detail. */
const Network = (() => {
  const { el } = Draw;
  let data, spatial, depth;

  function kindOf(row) {
    const w = row.window ? row.window.kind : "";
    if (w.includes("conv")) return "conv";
    if (w.includes("pool") || w.includes("subsampling") || /Pool/.test(row.type)) return "pool";
    if (/Normalization|LRN/.test(row.type)) return "norm";
    if (/Dense|RBF/.test(row.type)) return "dense";
    if (Array.isArray(row.input_shape[0]) || /Concatenate|Add|Inception/.test(row.type)) return "join";
    return "other";
  }

  const COLORS = { conv: "#4c78a8", pool: "#59a14f", norm: "#9c9c9c", dense: "#f28e2b", join: "#e15759",
    other: "#b07aa1", input: "#1d2330" };
  const shapeText = (shape) => shape.join("×");
  const axes = (xs) => (new Set(xs.map(String)).size === 1 ? String(xs[0]) : xs.join("×"));

  function kfsp(w) {
    if (!w) return "";
    const pads = w.padding.map((p) => (p[0] === p[1] ? String(p[0]) : `${p[0]}+${p[1]}`));
    const parts = [];
    if (w.filters !== null) parts.push(`K=${w.filters}`);
    parts.push(`F=${axes(w.kernel_size)}`, `S=${axes(w.strides)}`, `P=${axes(pads)}`);
    if (w.rounding !== "floor") parts.push(w.rounding);
    return parts.join(" ");
  }

  function box(row, kind) {
    const shape = row.output_shape, small = row.sub ? 0.6 : 1;   // a block's branches stand side by side
    const node = el("button", { type: "button", class: `layer ${kind}`, dataset: { row: row.id, name: row.name,
      shape: shape.join(","), sub: row.sub ? "1" : undefined }, "aria-label": `${row.name}: ${row.type}, output ${shapeText(shape)}`,
    onclick: () => show(row.id) },
    Draw.cube(shape, spatial, depth, COLORS[kind], small),
    el("span", { class: "txt" },
      el("div", { class: "name", text: row.sub ? row.name.split("/").pop() : row.name }),
      el("div", { class: "type", text: row.type }),
      el("div", { class: "shape", text: shapeText(shape) }),
      row.window ? el("div", { class: "kfsp", text: kfsp(row.window) }) : null));
    return node;
  }

  const arrow = () => el("div", { class: "flow-arrow", "aria-hidden": "true", text: "↓" });

  function item(entry) {
    const row = data.rows[entry.row];
    if (!entry.branches) return box(row, kindOf(row));
    const branches = entry.branches.map((branch) => el("div", { class: "branch" },
      branch.length ? branch.flatMap((b, i) => (i ? [arrow(), item(b)] : [item(b)]))
        : [el("div", { class: "identity", text: "identity (shortcut)" })]));
    const joins = row.type === "Add" ? "added" : "concatenated";
    return el("div", { class: "block", dataset: { block: row.name } },
      el("div", { class: "block-title", text: `${row.name}: ${entry.branches.length} branches, ${joins}` }),
      el("div", { class: "branches" }, branches), arrow(), box(row, "join"));
  }

  function render(d) {
    data = d;
    const shapes = [d.card.input_shape, ...d.rows.map((r) => r.output_shape)];
    const room = Math.max(0.5, Math.min(1, window.innerWidth / 900));   // smaller boxes in a narrow window
    spatial = Draw.scale(shapes.filter((s) => s.length > 1).flatMap((s) => s.slice(0, -1)), 6, Math.round(110 * room));
    depth = Draw.scale(shapes.map((s) => s[s.length - 1]), 4, Math.round(70 * room));
    const root = document.getElementById("net");
    const input = el("div", { class: "layer input", dataset: { row: "input", name: "input",
      shape: d.card.input_shape.join(",") } },
    Draw.cube(d.card.input_shape, spatial, depth, COLORS.input),
    el("span", { class: "txt" }, el("div", { class: "name", text: "input" }),
      el("div", { class: "shape", text: shapeText(d.card.input_shape) })));
    root.append(input, ...d.layout.flatMap((entry) => [arrow(), item(entry)]));
    const t = d.card.totals_text;
    document.getElementById("totals").textContent =
      `${d.card.name}: input ${shapeText(d.card.input_shape)}; ` +
      `params ${t.params} (${t.weights} trainable, ${t.non_trainable} non-trainable); multiply-adds ${t.multiply_adds}` +
      (d.card.totals.unknown.length ? ` (unknown in ${d.card.totals.unknown.join(", ")})` : "");
    document.getElementById("net-hint").textContent =
      "Each box is one layer's output volume, H×W drawn as its face and D as its depth" +
      (spatial.log || depth.log ? " (on a log scale: the sizes span more than 8×)" : "") +
      ". Click a layer for its formula, parameters, multiply-adds and receptive field.";
  }

  function field(row) {
    const rf = row.receptive_field;
    if (!rf) return "unknown";
    let where = "";
    if (row.start && row.output_shape.length > 1) {
      const spans = row.start.map((s, i) => `${s}…${s + rf[i].size - 1}`);
      where = `; output cell (0, 0) sees input rows ${spans[0]}` + (spans[1] ? `, columns ${spans[1]}` : "") +
        (row.start.some((s) => s < 0) ? " (negative: the padding)" : "");
    }
    return `${rf.map((f) => f.size).join("×")} input cells (jump ${axes(rf.map((f) => f.jump))})${where}`;
  }

  function weightsText(row) {
    const w = row.window;
    if (w && w.kind === "conv") {
      const d1 = row.input_shape[row.input_shape.length - 1];
      return `(${w.kernel_size.join("·")}·${d1})·${w.filters} = ${Arith.group(w.weights)} weights, ${Arith.group(w.biases)} biases`;
    }
    return `${row.text.weights} trainable`;
  }

  function show(id) {
    const row = data.rows[id], detail = document.getElementById("detail");
    document.querySelectorAll(".layer.selected").forEach((n) => n.classList.remove("selected"));
    document.querySelectorAll(`.layer[data-row="${id}"]`).forEach((n) => n.classList.add("selected"));
    const ins = Array.isArray(row.input_shape[0]) ? row.input_shape.map(shapeText).join(" and ") : shapeText(row.input_shape);
    const line = (k, v, cls) => el("tr", {}, el("th", { text: k }), el("td", { class: cls, text: v }));
    const table = el("table", {},
      line("type", row.type), line("input", ins), line("output", shapeText(row.output_shape), "shape"),
      row.window ? line("window", kfsp(row.window) + (row.window.rounding === "floor" ? " (floor)" : "")) : null,
      line("formula", row.formula || "—", "formula mono"),
      row.window && row.window.weights ? line("weights", weightsText(row)) : null,
      line("parameters", `${row.text.params} (${row.text.weights} trainable, ${row.text.non_trainable} non-trainable)`, "params"),
      line("multiply-adds", row.text.multiply_adds, "macs"),
      line("receptive field", field(row), "rf"));
    const parts = [el("button", { type: "button", class: "close", "aria-label": "close",
      onclick: () => { detail.hidden = true; detail.parentElement.classList.remove("open"); }, text: "×" }),
    el("h3", { text: row.name }), table];
    const w = row.window;
    if (w && w.kernel_size.length === 2 && !Array.isArray(row.input_shape[0]) && row.input_shape.length === 3) {
      parts.push(el("p", {}, el("button", { type: "button", class: "to-playground",
        onclick: () => Playground.load(row), text: "try these numbers in the playground" })));
    }
    const filters = data.filters[id];
    if (filters) parts.push(ImageView.filtersFor(filters));
    if (data.images.length && ImageView.hasMaps(id)) {
      parts.push(el("p", {}, el("a", { href: `#stage-${id}`, text: "its feature maps on your image ↓" })));
    }
    detail.replaceChildren(...parts);
    detail.dataset.name = row.name;
    detail.dataset.row = id;
    detail.hidden = false;
    detail.parentElement.classList.add("open");
    if (window.matchMedia("(max-width: 760px)").matches) detail.scrollIntoView({ block: "nearest" });
  }

  return { render, show, kindOf };
})();
