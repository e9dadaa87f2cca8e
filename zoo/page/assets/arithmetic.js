"use strict";
/* The shape arithmetic of cnn_zoo.layers.arithmetic (layers/arithmetic.py), line for line, for
   the playground: the same numbers, texts and errors. tests/test_page_browser.py compares the
   two on random cases (floor, ceil, exact, conv and pool); change both together. */
const Arith = (() => {
  class ShapeError extends Error {
    constructor(message, fields) { super(message); this.name = "ShapeError"; Object.assign(this, fields); }
  }

  const mod = (a, b) => ((a % b) + b) % b;            // Python's % (a non-negative remainder)
  const range = (n) => Array.from({ length: Math.max(0, n) }, (_, i) => i);
  const prod = (xs) => xs.reduce((a, b) => a * b, 1);
  const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");   // f"{n:,}"

  // f"{x:.2f}": the double rounded to 2 decimals. toFixed rounds an exact tie away from zero,
  // Python to even; a tie at 2 decimals is an odd number of eighths, exact in binary.
  function fixed2(x) {
    const a = Math.abs(x);
    if (!(Number.isInteger(a * 8) && !Number.isInteger(a * 4))) return x.toFixed(2);
    let n = Math.floor(a * 100);
    if (n % 2 === 1) n += 1;
    return (x < 0 ? "-" : "") + Math.floor(n / 100) + "." + String(n % 100).padStart(2, "0");
  }

  // _fmt: an integer-valued float as an int, else 2 decimals without trailing zeros.
  const fmt = (x) => (Number.isInteger(x) ? String(x) : fixed2(x).replace(/0+$/, ""));

  function formula(size, kernelSize, stride = 1, padding = 0, dilation = 1) {
    const [lo, hi] = Array.isArray(padding) ? padding : [padding, padding];
    const f = dilation === 1 ? String(kernelSize) : `(${dilation}·(${kernelSize} − 1) + 1)`;
    const pad = lo === hi ? `2·${lo}` : `${lo} + ${hi}`;
    return `(${size} − ${f} + ${pad})/${stride} + 1`;
  }

  function fits(size, kernelSize, stride, dilation = 1, limit = null) {
    const extent = dilation * (kernelSize - 1) + 1;
    limit = limit === null ? Math.max(extent - 1, 2 * stride) : limit;
    return range(limit + 1).filter((p) => mod(size - extent + 2 * p, stride) === 0 && size - extent + 2 * p >= 0);
  }

  const validPaddings = (size, kernelSize, stride = 1, dilation = 1, maxPadding = null) =>
    fits(size, kernelSize, stride, dilation, maxPadding);

  function validStrides(size, kernelSize, padding = 0, dilation = 1, maxStride = null) {
    const span = size - (dilation * (kernelSize - 1) + 1) + 2 * padding;
    if (span < 0) return [];
    const top = maxStride || Math.max(kernelSize, 1);
    return range(top).map((i) => i + 1).filter((s) => span % s === 0);
  }

  function validKernelSizes(size, stride, padding = 0, maxKernel = null) {
    const top = maxKernel || Math.min(size + 2 * padding, Math.max(7, 2 * stride + 1));
    return range(top).map((i) => i + 1)
      .filter((f) => mod(size - f + 2 * padding, stride) === 0 && size - f + 2 * padding >= 0);
  }

  function checkAxis(size, kernelSize, stride, padding, dilation) {
    for (const [name, value] of [["size", size], ["kernel_size", kernelSize], ["stride", stride], ["dilation", dilation]]) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`\`${name}\` must be an int >= 1. Received: ${name}=${value}`);
    }
    const pair = Array.isArray(padding) ? padding : [padding, padding];
    if (pair.length !== 2 || !pair.every((p) => Number.isInteger(p) && p >= 0)) {
      throw new Error(`\`padding\` must be an int >= 0 or a (before, after) pair of them. Received: padding=${padding}`);
    }
  }

  const label = (layer) => (layer ? `${layer}: ` : "");

  function outputSize(size, kernelSize, stride = 1, padding = 0, rounding = "floor", dilation = 1, layer = null) {
    checkAxis(size, kernelSize, stride, padding, dilation);
    const [lo, hi] = Array.isArray(padding) ? padding : [padding, padding];
    const extent = dilation * (kernelSize - 1) + 1;
    const span = size - extent + lo + hi;
    const text = formula(size, kernelSize, stride, [lo, hi], dilation);
    // Ceil keeps a window that starts inside the input and hangs past its end.
    if (span < 0 && !(rounding === "ceil" && span > -stride)) {
      const ok = range(extent).filter((p) => size - extent + 2 * p >= 0);
      throw new ShapeError(
        `${label(layer)}${text} = ${fmt(span / stride + 1)} leaves no whole window: ` +
        `the window (F=${extent}) is larger than the padded input ` +
        `(${size} + ${lo + hi} = ${size + lo + hi}); use a smaller kernel, more padding ` +
        `(P >= ${ok.length ? ok[0] : extent}) or a larger input`,
        { layer, formula: text, value: span / stride + 1, suggestions: { padding: ok.slice(0, 1) } });
    }
    const whole = Math.floor(span / stride), rest = span - whole * stride;
    if (rest && rounding === "exact") throw inexactError(size, kernelSize, stride, [lo, hi], dilation, layer, text, span);
    let out = whole + 1;
    if (rest && rounding === "ceil") {
      out += 1;
      // The last window must start inside the input or the left padding.
      if ((out - 1) * stride >= size + lo) out -= 1;
    }
    return out;
  }

  function inexactError(size, kernelSize, stride, [lo, hi], dilation, layer, text, span) {
    const value = span / stride + 1;
    const paddings = fits(size, kernelSize, stride, dilation);
    const extent = dilation * (kernelSize - 1) + 1;
    const head = `${label(layer)}${text} = ${fmt(value)} is not a whole number`;
    if (paddings.length) {
      return new ShapeError(`${head}; paddings that fit with F=${kernelSize}, S=${stride}: ${paddings.join(", ")}`,
        { layer, formula: text, value, suggestions: { padding: paddings } });
    }
    const p = Math.min(lo, hi);
    const strides = validStrides(size, kernelSize, p, dilation);
    const kernels = validKernelSizes(size, stride, p);
    const why = stride === 2
      ? `${size} − ${extent} = ${size - extent} is odd and 2·P is even, so no P fits with S=${stride}`
      : `no padding P makes ${size} − ${extent} + 2·P a multiple of ${stride}`;
    return new ShapeError(
      `${head}: ${why}; strides that fit with F=${kernelSize}, P=${p}: ${strides.join(", ") || "none"}; ` +
      `kernel sizes that fit with S=${stride}: ${kernels.join(", ") || "none"}`,
      { layer, formula: text, value, suggestions: { padding: [], strides, kernel_size: kernels } });
  }

  // explain_window for int arguments: one F, S and P for every axis; strides default as Python's.
  function explainWindow(kind, inputShape, { kernelSize, strides = null, padding = 0, rounding = "floor",
    filters = null, useBias = true, name = null }) {
    const spatial = inputShape.slice(0, -1), depth = inputShape[inputShape.length - 1];
    const kernel = spatial.map(() => kernelSize);
    const stride = spatial.map(() => (strides === null ? (filters === null ? kernelSize : 1) : strides));
    const pads = spatial.map(() => [padding, padding]);
    const out = spatial.map((w, i) => outputSize(w, kernel[i], stride[i], pads[i], rounding, 1, name));
    const formulas = spatial.map((w, i) => formula(w, kernel[i], stride[i], pads[i], 1));
    const quotients = spatial.map((w, i) => (w - (kernel[i] - 1) - 1 + pads[i][0] + pads[i][1]) / stride[i] + 1);
    const weights = filters === null ? 0 : prod(kernel) * depth * filters;
    const biases = filters === null ? 0 : (useBias ? filters : 0);
    const channels = filters === null ? depth : filters;
    return { kind, name, input_shape: inputShape.slice(), output_shape: [...out, channels], kernel_size: kernel,
      strides: stride, padding: pads, rounding, dilation: spatial.map(() => 1), formulas, quotients, weights, biases,
      multiply_adds: filters === null ? 0 : prod(out) * weights, params: weights + biases };
  }

  // str(Arithmetic): what `zoo explain` prints.
  function text(a) {
    const lines = [`${a.name || a.kind}: ${a.input_shape.join("×")} → ${a.output_shape.join("×")}`];
    a.quotients.forEach((value, axis) => {
      const out = a.output_shape[axis];
      const rounded = value === out ? "" : `${fmt(value)} → ${a.rounding} → `;
      lines.push(`  axis ${axis}: W2 = ${a.formulas[axis]} = ${rounded}${out}`);
    });
    a.formulas.slice(a.quotients.length).forEach((note) => lines.push(`  ${note}`));
    if (a.weights || a.biases) {
      const how = a.kind === "conv"
        ? `(${a.kernel_size.join("·")}·${a.input_shape[a.input_shape.length - 1]})·${a.output_shape[a.output_shape.length - 1]} = ` : "";
      lines.push(`  weights ${how}${group(a.weights)}, biases ${group(a.biases)}, params ${group(a.weights + a.biases)}`);
    }
    lines.push(`  multiply-adds ${group(a.multiply_adds)}`);
    return lines.join("\n");
  }

  return { ShapeError, fmt, group, formula, validPaddings, validStrides, validKernelSizes, outputSize,
    explainWindow, text };
})();
