// The live top-p% slider (st.components.v2): the agreement pictures, their IoU and the share of
// pixels selected, recomputed in the browser on every animation frame while the slider moves;
// the value goes back to Python once, on release. The data format and why it is exact:
// ui/live_threshold.py. Plain ES module, no build step, nothing fetched.

const MAGIC = "LTP1";
const TYPES = { uint16: Uint16Array, uint32: Uint32Array, float32: Float32Array, float64: Float64Array };
const KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"]);
const KEPT_PAYLOADS = 3;

/** What this browser lacks to run the live slider, or "" (the page then keeps the server's). */
export function missingFeature() {
  if (typeof DecompressionStream !== "function") return "DecompressionStream";
  if (typeof requestAnimationFrame !== "function") return "requestAnimationFrame";
  if (typeof ImageData !== "function") return "ImageData";
  return "";
}

/** The header and the sections (Uint8Array views) of a message (ui/live_threshold.pack). */
export function parseMessage(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a live-threshold message");
  const length = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  const body = bytes.subarray(8 + length);
  const sections = header.sections.map(([start, size]) => body.subarray(start, start + size));
  return { header, sections };
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).arrayBuffer();
}

async function typed(sections, [index, type]) {
  return new TYPES[type](await inflate(sections[index]));
}

/** The four versions of every pixel (code = map + 2 · reference), packed RGBA (alpha 255) at
 * 4 · pixel + code, as viz.AgreementPainter: uint8(a · image + b · colour) in float32. */
export function tintVersions(rgb, tints) {
  const n = rgb.length / 3;
  const versions = new Uint32Array(4 * n);
  const f = Math.fround;
  const table = tints.map(([a, b, colour]) => [f(a), colour.map((c) => f(f(b) * f(c)))]);
  for (let i = 0; i < n; i++) {
    for (let code = 0; code < 4; code++) {
      const [a, mixed] = table[code];
      let packed = 0xff000000;
      for (let ch = 0; ch < 3; ch++) {
        const value = Math.trunc(f(f(a * rgb[3 * i + ch]) + mixed[ch]));
        packed |= value << (8 * ch);
      }
      versions[4 * i + code] = packed >>> 0;
    }
  }
  return versions;
}

/** The payload's image versions and, per map, its rank image and sorted values (float64). */
export async function decodePayload(payload, sections) {
  const rgb = new Uint8Array(await inflate(sections[payload.image]));
  const maps = new Map();
  for (const entry of payload.maps) {
    const sorted = await typed(sections, entry.sorted);
    maps.set(entry.name, {
      ranks: await typed(sections, entry.ranks),
      sorted: sorted instanceof Float64Array ? sorted : Float64Array.from(sorted),
      constant: entry.constant,
      aboveMinimum: entry.above_minimum,
    });
  }
  return {
    width: payload.width,
    height: payload.height,
    size: payload.width * payload.height,
    versions: tintVersions(rgb, payload.tints),
    maps,
  };
}

function searchLeft(sorted, value) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function searchRight(sorted, value) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** round(p / 100 · n, 9) as Python's round (exact decimal rounding; its half-even ties cannot
 * change the ceiling or the comparison taken of it: see metrics._pixel_limit). */
function pixelShare(percent, size) {
  return Number((percent / 100.0 * size).toFixed(9));
}

/** The top-p% cut of a map as agreement.RankedMap and metrics.strict_cut: K (the mask is
 * rank < K), the share selected and the FEW_ABOVE_MINIMUM flag (true/false). */
export function cut(map, percent, ties) {
  const sorted = map.sorted;
  const size = sorted.length;
  if (percent <= 0) return { k: 0, share: 0.0, flag: false };
  const position = (100.0 - percent) / 100.0 * (size - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, size - 1);
  const fraction = position - low;
  const threshold = sorted[low] + fraction * (sorted[high] - sorted[low]);
  const atLeast = size - searchLeft(sorted, threshold);
  const above = size - searchRight(sorted, threshold);
  const overshoot = atLeast > Math.ceil(pixelShare(percent, size));
  const strict = ties === "no-overshoot" && overshoot && (above > 0 || atLeast === size);
  const k = strict ? above : atLeast;
  return { k, share: 1.0 - (size - k) / size, flag: map.aboveMinimum < pixelShare(percent, size) };
}

/** A map's top-p% mask (1 = selected), as RankedMap.mask (for tests). */
export function mask(map, percent, ties) {
  const { k } = cut(map, percent, ties);
  return Uint8Array.from(map.ranks, (rank) => (rank < k ? 1 : 0));
}

/** The reference's top-p% as the code's reference bit (2 or 0) per pixel. */
function referenceCodes(reference, k, out) {
  const ranks = reference.ranks;
  for (let i = 0; i < ranks.length; i++) out[i] = ranks[i] < k ? 2 : 0;
  return out;
}

/** Paints one agreement picture into ``pixels`` (Uint32 RGBA) and returns |map ∩ reference|. */
function paint(ranks, k, codes, versions, pixels) {
  let both = 0;
  for (let i = 0; i < ranks.length; i++) {
    const code = (ranks[i] < k ? 1 : 0) | codes[i];
    pixels[i] = versions[4 * i + code];
    both += (code + 1) >> 2;
  }
  return both;
}

/** IoU as agreement._masks_iou: NaN with a reason for a constant map or an empty union. */
export function iou(map, reference, kMap, kReference, both, reasons) {
  if (map.constant || reference.constant) return { value: NaN, reason: reasons.constant };
  const union = kMap + kReference - both;
  if (union === 0) return { value: NaN, reason: reasons.empty };
  return { value: both / union, reason: "" };
}

/** Masks and IoU of every map against ``referenceName`` at p, without drawing (for tests). */
export function agreementTable(payload, referenceName, percent, ties, reasons) {
  const reference = payload.maps.get(referenceName);
  const kReference = cut(reference, percent, ties).k;
  const codes = referenceCodes(reference, kReference, new Uint8Array(payload.size));
  const pixels = new Uint32Array(payload.size);
  const table = {};
  for (const [name, map] of payload.maps) {
    const { k, share } = cut(map, percent, ties);
    const both = paint(map.ranks, k, codes, payload.versions, pixels);
    table[name] = { k, share, ...iou(map, reference, k, kReference, both, reasons) };
  }
  return table;
}

/** The agreement picture of ``mapName`` against ``referenceName`` at p: packed RGBA (tests). */
export function agreementPicture(payload, mapName, referenceName, percent, ties) {
  const reference = payload.maps.get(referenceName);
  const codes = referenceCodes(reference, cut(reference, percent, ties).k, new Uint8Array(payload.size));
  const map = payload.maps.get(mapName);
  const pixels = new Uint32Array(payload.size);
  paint(map.ranks, cut(map, percent, ties).k, codes, payload.versions, pixels);
  return pixels;
}

function format(percent) {
  return String(percent);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The component's view of one payload: slider, heading, rows of canvases with captions. */
class LiveView {
  constructor(parent, report) {
    this.report = report;
    this.root = element("div", "lt");
    this.label = element("label", "lt-label");
    this.slider = element("input", "lt-slider");
    this.slider.type = "range";
    this.heading = element("h3", "lt-heading");
    this.legend = element("p", "lt-legend", "Yellow: both maps · red: the map only · blue: the reference only.");
    this.referenceLine = element("p", "lt-reference");
    this.rows = element("div", "lt-rows");
    this.root.append(this.label, this.slider, this.heading, this.legend, this.referenceLine, this.rows);
    parent.append(this.root);
    this.held = false;
    this.dragging = false;
    this.pending = null;
    this.frame = 0;
    this.inputAt = null;
  }

  /** Shows ``header`` (p, reference, ties, rows) on ``payload``; keeps the slider's focus. */
  update(payload, header) {
    const { slider } = this;
    const layout = JSON.stringify([header.id, header.rows, header.columns, header.reference]);
    this.payload = payload;
    this.header = header;
    Object.assign(slider, { min: header.slider.min, max: header.slider.max, step: header.slider.step });
    slider.setAttribute("aria-label", "Top-p% of pixels (live)");
    if (!this.dragging && !this.held) slider.value = String(header.percent);
    this.sent = header.percent;
    if (layout !== this.layout) this.build(header);
    this.layout = layout;
    this.bind();
    this.draw();
  }

  build(header) {
    const { width, height, size } = this.payload;
    this.codes = new Uint8Array(size);
    this.codesKey = null;
    this.panels = [];
    const rows = [];
    for (const [title, cells] of header.rows) {
      const titleNode = element("p", "lt-row-title");
      const grid = element("div", "lt-grid");
      grid.style.gridTemplateColumns = `repeat(${header.columns}, minmax(0, 1fr))`;
      for (const cell of cells) {
        const figure = element("figure", "lt-cell");
        grid.append(figure);
        if (!cell) continue;
        const [name, caption] = cell;
        const canvas = element("canvas");
        Object.assign(canvas, { width, height });
        const context = canvas.getContext("2d");
        const image = context.createImageData(width, height);
        const numbers = element("span", "lt-numbers");
        const label = element("figcaption", "", caption);
        label.append(element("br"), numbers);
        figure.dataset.map = name;
        figure.append(canvas, label);
        this.panels.push({
          name, context, image, numbers, figure,
          pixels: new Uint32Array(image.data.buffer),
          drawn: null,
        });
      }
      rows.push(titleNode, grid);
      titleNode.dataset.title = title;
    }
    this.rows.replaceChildren(...rows);
  }

  bind() {
    const { slider } = this;
    slider.oninput = (event) => {
      this.inputAt ??= event.timeStamp;  // the first input this frame answers
      this.schedule();
    };
    slider.onchange = () => {
      this.dragging = false;  // a release outside the slider sends no pointerup to it
      if (this.held) this.pending = true;
      else this.commit();
    };
    slider.onpointerdown = () => (this.dragging = true);
    slider.onpointerup = () => (this.dragging = false);
    slider.onkeydown = (event) => {
      if (KEYS.has(event.key)) this.held = true;
    };
    slider.onkeyup = (event) => {
      if (!KEYS.has(event.key)) return;
      this.held = false;
      if (this.pending) this.commit();
    };
    slider.onblur = () => {
      this.held = false;
      if (this.pending) this.commit();
    };
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** The value goes to Python once per release (a held arrow key: when it is let go). */
  commit() {
    this.pending = null;
    const percent = Number(this.slider.value);
    if (percent !== this.sent) {
      this.sent = percent;
      this.report("percent", percent);
    }
  }

  draw() {
    const start = performance.now();
    const { payload, header } = this;
    const percent = Number(this.slider.value);
    const reference = payload.maps.get(header.reference);
    const referenceCut = cut(reference, percent, header.ties);
    const suffix = header.suffix.replace("{p}", format(percent)).replace("{reference}", header.reference);
    for (const node of this.rows.querySelectorAll(".lt-row-title")) node.textContent = node.dataset.title + suffix;
    this.label.textContent = `Top-p% of pixels (study: 10%, its 90th-percentile cut): ${format(percent)}%`;
    this.heading.textContent = `Top ${format(percent)}% agreement with ${header.reference}`;
    this.referenceLine.textContent = `${header.reference}: ${(100 * referenceCut.share).toFixed(1)}% of pixels selected` +
      (referenceCut.flag ? ` ⚠️ ${header.flag}` : "");
    const codesKey = `${header.reference}|${referenceCut.k}`;
    for (const panel of this.panels) {
      const map = payload.maps.get(panel.name);
      const { k, share, flag } = cut(map, percent, header.ties);
      const key = `${k}|${referenceCut.k}|${header.reference}`;
      if (panel.drawn !== key) {
        if (this.codesKey !== codesKey) {
          referenceCodes(reference, referenceCut.k, this.codes);
          this.codesKey = codesKey;
        }
        const both = paint(map.ranks, k, this.codes, payload.versions, panel.pixels);
        panel.context.putImageData(panel.image, 0, 0);
        panel.drawn = key;
        panel.result = iou(map, reference, k, referenceCut.k, both, header.reasons);
      }
      const { value, reason } = panel.result;
      panel.figure.dataset.iou = Number.isNaN(value) ? "nan" : String(value);
      panel.figure.dataset.percent = String(percent);
      panel.numbers.textContent = (Number.isNaN(value) ? `IoU n/a (${reason})` : `IoU ${value.toFixed(3)}`) +
        ` · ${(100 * share).toFixed(1)}% selected` + (flag ? " ⚠️" : "");
    }
    this.root.dataset.percent = String(percent);
    // benchmarks/live_threshold.py: each frame's work, and input → this frame's drawing (ms)
    const { times, latencies } = store();
    const end = performance.now();
    times.push(end - start);
    if (this.inputAt != null) latencies.push(end - this.inputAt);
    this.inputAt = null;
    for (const list of [times, latencies]) if (list.length > 1000) list.splice(0, 500);
  }

  stop() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.inputAt = null;
  }
}

function store() {
  const kept = (globalThis.__saliencyLiveThreshold ??= { payloads: new Map(), views: new WeakMap(), times: [] });
  kept.latencies ??= [];  // a page that ran an older script keeps its store
  return kept;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  // every report carries a stamp: a repeated value is still a change (its callback runs)
  const report = (name, value) => setStateValue(name, [value, Date.now()]);
  if (!data) return undefined;
  const lacking = missingFeature();
  if (lacking) {
    report("unsupported", `this browser lacks ${lacking}`);
    return undefined;
  }
  let message;
  try {
    message = parseMessage(data);
  } catch (error) {
    report("unsupported", `its data could not be read (${error.message})`);
    return undefined;
  }
  const { header, sections } = message;
  const { payloads, views } = store();
  let loading = payloads.get(header.id);
  if (!loading) {
    if (!header.payload) {
      report("missing", header.id);
      return undefined;
    }
    loading = decodePayload(header.payload, sections);
    payloads.set(header.id, loading);
    while (payloads.size > KEPT_PAYLOADS) payloads.delete(payloads.keys().next().value);
  }
  let stopped = false;
  loading
    .then((payload) => {
      if (stopped) return;
      if (!header.live) {
        report("ready", header.id);
        return;
      }
      let view = views.get(parentElement);
      if (!view || !view.root.isConnected) {
        view = new LiveView(parentElement, report);
        views.set(parentElement, view);
      }
      view.update(payload, header);
    })
    .catch((error) => {
      payloads.delete(header.id);
      report("unsupported", `the maps could not be read (${error.message})`);
    });
  return () => {
    stopped = true;
    views.get(parentElement)?.stop();
  };
}
