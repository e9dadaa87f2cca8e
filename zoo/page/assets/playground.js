"use strict";
/* The K/F/S/P playground: the user's W1, H1, D1, K, F, S, P and rounding through Arith (the
   mirror of cnn_zoo.layers.arithmetic), printed as `zoo explain` prints it, and drawn: the
   zero-padded input, the window sliding with stride S, the output grid; in max-pool mode the
   numbers too (the lecture's 6×6 example, 3×3 windows at stride 3, or the user's own). */
const Playground = (() => {
  const { el } = Draw;
  const $ = (id) => document.getElementById(id);
  const LECTURE = [[1, 3, 2, 9, 7, 5], [4, 6, 1, 3, 8, 2], [0, 2, 5, 4, 1, 6],
    [8, 1, 7, 2, 3, 0], [3, 5, 0, 6, 9, 4], [2, 7, 4, 1, 5, 8]];
  const PRESETS = {
    conv: { mode: "conv", w1: 7, h1: 7, d1: 3, k: 2, f: 3, s: 2, p: 1, rounding: "floor" },
    lenet: { mode: "conv", w1: 32, h1: 32, d1: 1, k: 6, f: 5, s: 1, p: 0, rounding: "floor" },
    pool: { mode: "pool", w1: 6, h1: 6, d1: 1, k: 1, f: 3, s: 3, p: 0, rounding: "floor", values: LECTURE },
    inexact: { mode: "conv", w1: 32, h1: 32, d1: 3, k: 6, f: 5, s: 3, p: 1, rounding: "exact" },
  };
  const MAX_DRAWN = 64;   // cells per side drawn one by one; larger inputs get the numbers only
  let values = LECTURE, typed = false, position = 0, timer = null, last = null;

  const int = (id) => Number($(id).value);
  function state() {
    return { mode: document.querySelector("input[name=mode]:checked").value, w1: int("pg-w1"), h1: int("pg-h1"),
      d1: int("pg-d1"), k: int("pg-k"), f: int("pg-f"), s: int("pg-s"), p: int("pg-p"), rounding: $("pg-rounding").value };
  }

  function setState(st) {
    document.querySelector(`input[name=mode][value=${st.mode}]`).checked = true;
    for (const key of ["w1", "h1", "d1", "k", "f", "s", "p"]) if (st[key] !== undefined) $(`pg-${key}`).value = st[key];
    if (st.rounding) $("pg-rounding").value = st.rounding;
    if (st.values) { values = st.values; typed = true; $("pg-values").value = gridText(values); }
  }

  // Numbers for a max-pool of any size: small whole numbers that vary, the same every time.
  const generated = (h, w) => Array.from({ length: h }, (_, r) => Array.from({ length: w },
    (_, c) => (r * 7 + c * 3 + ((r + 1) * (c + 2)) % 5) % 10));
  const gridText = (grid) => grid.map((row) => row.join(" ")).join("\n");

  function parseValues(text) {
    const rows = text.trim().split("\n").map((line) => line.trim().split(/[\s,;]+/).filter(Boolean).map(Number));
    if (!rows.length || !rows[0].length || rows.some((r) => r.length !== rows[0].length || r.some((v) => !Number.isFinite(v)))) {
      return null;
    }
    return rows;
  }

  function poolOutput(a, st) {
    const [w2, h2] = a.output_shape;
    return Array.from({ length: h2 }, (_, i) => Array.from({ length: w2 }, (_, j) => {
      let best = -Infinity;
      for (let u = 0; u < st.f; u++) {
        for (let v = 0; v < st.f; v++) {
          const r = i * st.s + u - st.p, c = j * st.s + v - st.p;
          if (r >= 0 && r < st.h1 && c >= 0 && c < st.w1) best = Math.max(best, values[r][c]);
        }
      }
      return best;
    }));
  }

  const show = (v) => (v === -Infinity ? "−∞" : String(v));

  function update() {
    const st = state(), pool = st.mode === "pool";
    $("playground").classList.toggle("pool", pool);
    if (pool && (!typed || values.length !== st.h1 || values[0].length !== st.w1)) {
      typed = false;
      values = st.w1 === 6 && st.h1 === 6 ? LECTURE : generated(Math.min(st.h1, 200), Math.min(st.w1, 200));
      if (st.w1 <= 200 && st.h1 <= 200) $("pg-values").value = gridText(values);
    }
    const result = $("pg-result"), error = $("pg-error");
    let a = null, message = null;
    try {
      a = Arith.explainWindow(pool ? "max_pool" : "conv", [st.w1, st.h1, st.d1], { kernelSize: st.f, strides: st.s,
        padding: st.p, rounding: st.rounding, filters: pool ? null : st.k, name: pool ? "pool" : "conv" });
    } catch (e) {
      message = e.message;
    }
    const fits = [st.w1, st.h1].map((size) => (Number.isInteger(size) && size >= 1 && st.f >= 1 && st.s >= 1
      ? Arith.validPaddings(size, st.f, st.s) : []));
    result.dataset.error = message || "";
    result.dataset.output = a ? JSON.stringify(a.output_shape) : "";
    result.dataset.paddings = JSON.stringify(fits);
    error.hidden = !message;
    error.textContent = message ? `Error: ${message}` : "";
    $("pg-explain").textContent = a ? Arith.text(a) : "";
    $("pg-paddings").textContent = `paddings P that make the division whole (F=${st.f}, S=${st.s}): ` +
      `W1=${st.w1}: ${fits[0].join(", ") || "none"}; H1=${st.h1}: ${fits[1].join(", ") || "none"}`;
    $("pg-summary").textContent = !a ? "" : pool
      ? `W2×H2×D2 = ${a.output_shape.join("×")}: a pool has no weights and keeps the depth (D2 = D1)` +
        (st.p >= st.f ? `; a max-pool layer refuses P ≥ F (a window could hold only padding)` : "")
      : `W2×H2×D2 = ${a.output_shape.join("×")}; weights F·F·D1·K = ${st.f}·${st.f}·${st.d1}·${st.k} = ` +
        `${Arith.group(a.weights)}, biases K = ${st.k}, parameters ${Arith.group(a.params)}; ` +
        `multiply-adds W2·H2·F·F·D1·K = ${Arith.group(a.multiply_adds)}`;
    const table = $("pg-pool-table");
    table.replaceChildren();
    if (a && pool && st.w1 <= 200 && st.h1 <= 200) {
      const out = poolOutput(a, st);
      table.append(...out.map((row) => el("tr", {}, row.map((v) => el("td", { text: show(v) })))));
      table.dataset.values = JSON.stringify(out.map((row) => row.map(show)));
    } else {
      table.dataset.values = "";
    }
    last = { a, st };
    const count = a ? a.output_shape[0] * a.output_shape[1] : 1;
    $("pg-pos").max = String(Math.max(0, count - 1));
    position = Math.min(position, count - 1);
    $("pg-pos").value = String(position);
    draw();
  }

  function draw() {
    const canvas = $("pg-canvas"), ctx = canvas.getContext("2d");
    const { a, st } = last, pool = st.mode === "pool";
    const wp = st.w1 + 2 * st.p, hp = st.h1 + 2 * st.p;
    const width = Math.max(280, Math.min(960, canvas.parentElement.clientWidth || 640));
    if (!a || wp > MAX_DRAWN || hp > MAX_DRAWN) {
      canvas.width = width; canvas.height = 40;
      ctx.clearRect(0, 0, width, 40);
      ctx.fillStyle = "#5b6475"; ctx.font = "14px system-ui, sans-serif";
      ctx.fillText(!a ? "no output: see the error above" : `${wp}×${hp} cells padded: too many to draw one by one; ` +
        "the numbers above hold", 8, 24);
      $("pg-pos-text").textContent = "";
      return;
    }
    const [w2, h2] = a.output_shape;
    const { cell, outCell, x0, y0, ox, oy } = geometry(width, st, a);
    canvas.width = width;
    canvas.height = Math.max(y0 + (hp + 1) * cell + 20, oy + (h2 + 1) * outCell + 20);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "13px system-ui, sans-serif"; ctx.fillStyle = "#1d2330";
    ctx.fillText(inputLabel(st), x0, y0 - 8);
    ctx.fillText(`output ${w2}×${h2}` + (pool ? "" : ` (1 of K = ${st.k} maps)`), ox, oy - 8);
    const numbers = pool && cell >= 14;
    ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.font = `${Math.floor(cell * 0.5)}px ui-monospace, monospace`;
    for (let r = 0; r < hp; r++) {
      for (let c = 0; c < wp; c++) {
        const inside = r >= st.p && r < st.p + st.h1 && c >= st.p && c < st.p + st.w1;
        ctx.fillStyle = inside ? "#ffffff" : "#e4e7ed";
        ctx.fillRect(x0 + c * cell, y0 + r * cell, cell, cell);
        ctx.strokeStyle = "#c3c9d4"; ctx.strokeRect(x0 + c * cell, y0 + r * cell, cell, cell);
        ctx.fillStyle = inside ? "#1d2330" : "#8a93a3";
        if (numbers) ctx.fillText(inside ? String(values[r - st.p][c - st.p]) : (pool ? "" : "0"), x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell);
        else if (!inside && cell >= 12) ctx.fillText("0", x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell);
      }
    }
    // Every window's top-left corner, then the current window.
    ctx.fillStyle = "#4c78a8";
    for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) ctx.fillRect(x0 + j * st.s * cell + 2, y0 + i * st.s * cell + 2, 3, 3);
    const i = Math.floor(position / w2), j = position % w2;
    ctx.lineWidth = 3; ctx.strokeStyle = "#e15759";
    if ((j * st.s + st.f) > wp || (i * st.s + st.f) > hp) ctx.setLineDash([6, 4]);   // ceil: hangs past the end
    ctx.strokeRect(x0 + j * st.s * cell, y0 + i * st.s * cell, st.f * cell, st.f * cell);
    ctx.setLineDash([]); ctx.lineWidth = 1;
    const out = pool ? poolOutput(a, st) : null;
    ctx.font = `${Math.floor(outCell * 0.5)}px ui-monospace, monospace`;
    for (let r = 0; r < h2; r++) {
      for (let c = 0; c < w2; c++) {
        const here = r === i && c === j;
        ctx.fillStyle = here ? "#fbd3d4" : "#eef3fa";
        ctx.fillRect(ox + c * outCell, oy + r * outCell, outCell, outCell);
        ctx.strokeStyle = "#9fb3cc"; ctx.strokeRect(ox + c * outCell, oy + r * outCell, outCell, outCell);
        if (out && outCell >= 14) { ctx.fillStyle = "#1d2330"; ctx.fillText(show(out[r][c]), ox + (c + 0.5) * outCell, oy + (r + 0.5) * outCell); }
      }
    }
    ctx.textAlign = "start"; ctx.textBaseline = "alphabetic";
    $("pg-pos-text").textContent = `window ${position + 1} of ${w2 * h2}: output (${i}, ${j}) ← input rows ` +
      `${i * st.s - st.p}…${i * st.s - st.p + st.f - 1}, columns ${j * st.s - st.p}…${j * st.s - st.p + st.f - 1}` +
      (out ? ` → max ${show(out[i][j])}` : "");
  }

  function step() {
    const count = Number($("pg-pos").max) + 1;
    position = (position + 1) % count;
    $("pg-pos").value = String(position);
    draw();
  }

  function play() {
    if (timer) { clearInterval(timer); timer = null; $("pg-play").textContent = "▶ slide"; return; }
    timer = setInterval(step, 600);
    $("pg-play").textContent = "❚❚ pause";
  }

  // A network row's numbers (its input volume and window), as a starting point.
  function load(row) {
    const w = row.window, [h1, w1, d1] = row.input_shape;
    const rounding = ["floor", "ceil", "exact"].includes(w.rounding) ? w.rounding : "floor";
    setState({ mode: w.filters === null ? "pool" : "conv", w1, h1, d1, k: w.filters || 1, f: w.kernel_size[1],
      s: w.strides[1], p: w.padding[1][0], rounding });
    typed = false;
    position = 0;
    update();
    $("playground").scrollIntoView({ block: "start" });
  }

  // Sets the form as a user would and returns what the page then shows (the browser tests' hook).
  function runCase(c) {
    setState({ ...c, values: c.values || undefined });
    if (!c.values) typed = false;
    update();
    const result = $("pg-result");
    return { explain: $("pg-explain").textContent, error: result.dataset.error || null,
      shown_error: $("pg-error").hidden ? null : $("pg-error").textContent,
      output: result.dataset.output ? JSON.parse(result.dataset.output) : null,
      paddings: JSON.parse(result.dataset.paddings), summary: $("pg-summary").textContent,
      pool: $("pg-pool-table").dataset.values ? JSON.parse($("pg-pool-table").dataset.values) : null };
  }

  function init() {
    $("pg-form").addEventListener("input", (e) => {
      if (e.target.id === "pg-values") {
        const parsed = parseValues(e.target.value);
        $("pg-error").hidden = !!parsed;
        if (!parsed) { $("pg-error").textContent = "Error: each line needs the same count of numbers"; return; }
        values = parsed; typed = true;
        $("pg-w1").value = parsed[0].length; $("pg-h1").value = parsed.length;
      }
      update();
    });
    $("pg-form").addEventListener("submit", (e) => e.preventDefault());
    document.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => {
      setState(PRESETS[b.dataset.preset]); position = 0; update();
    }));
    $("pg-pos").addEventListener("input", () => { position = Number($("pg-pos").value); draw(); });
    $("pg-play").addEventListener("click", play);
    $("pg-canvas").addEventListener("click", (e) => {   // a click on an output cell picks its window
      if (!last.a) return;
      const r = $("pg-canvas").getBoundingClientRect(), k = $("pg-canvas").width / r.width;
      const found = hitOutput((e.clientX - r.left) * k, (e.clientY - r.top) * k);
      if (found !== null) { position = found; $("pg-pos").value = String(found); draw(); }
    });
    window.addEventListener("resize", () => last && draw());
    update();
  }

  // Where draw() puts the grids: cell sizes and the corners of the input and the output.
  const inputLabel = (st) => `input ${st.w1}×${st.h1}` + (st.p ? `, P=${st.p}: ${st.w1 + 2 * st.p}×${st.h1 + 2 * st.p}` : "") +
    (st.mode === "pool" ? "" : ` (1 of D1 = ${st.d1})`);

  function geometry(width, st, a) {
    const wp = st.w1 + 2 * st.p, hp = st.h1 + 2 * st.p, w2 = a.output_shape[0];
    const side = width < 560;   // narrow: the output goes under the input
    const cell = Math.max(6, Math.min(30, Math.floor((side ? width - 20 : width * 0.6) / (wp + 1))));
    const outCell = Math.max(6, Math.min(30, Math.floor((side ? width - 20 : width * 0.35) / (w2 + 1))));
    const ctx = $("pg-canvas").getContext("2d");
    ctx.font = "13px system-ui, sans-serif";
    const x0 = 10, y0 = 24, right = Math.max((wp + 1) * cell, ctx.measureText(inputLabel(st)).width) + 30;
    return { cell, outCell, x0, y0, ox: side ? 10 : x0 + right, oy: side ? y0 + (hp + 1) * cell + 40 : y0 };
  }

  function hitOutput(x, y) {
    const { a, st } = last, [w2, h2] = a.output_shape;
    const { outCell, ox, oy } = geometry($("pg-canvas").width, st, a);
    const c = Math.floor((x - ox) / outCell), r = Math.floor((y - oy) / outCell);
    return c >= 0 && c < w2 && r >= 0 && r < h2 ? r * w2 + c : null;
  }

  return { init, load, runCase, update };
})();
