// A picture of a burst: lag (top) and replicas (bottom) over time, one line per run, as a
// self-contained SVG (no browser, no dependency). Used by bench/burst-drain.mjs (ours, the
// KEDA emulation and the ideal) and by `npm run demo` (its own run).

const WIDTH = 820;
const HEIGHT = 540;
const MARGIN = { left: 70, right: 24, top: 64, bottom: 44 };
const GAP = 46;
const DEFAULT_COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df"];

/**
 * @param {{ title: string, subtitle?: string, series: Array<{ name: string, color?: string, dashed?: boolean,
 *   lag: Array<[number, number]>, replicas: Array<[number, number]> }> }} chart  points are [seconds, value]
 * @returns {string} the SVG document
 */
export function timelineSvg(chart) {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const panelsHeight = HEIGHT - MARGIN.top - MARGIN.bottom - GAP;
  const lagPanel = { top: MARGIN.top, height: Math.round(panelsHeight * 0.58) };
  const replicaPanel = { top: lagPanel.top + lagPanel.height + GAP, height: panelsHeight - lagPanel.height };

  const all = (key) => chart.series.flatMap((s) => s[key]);
  const xMax = niceCeiling(Math.max(1, ...all("lag").map(([t]) => t), ...all("replicas").map(([t]) => t)));
  const lagMax = niceCeiling(Math.max(1, ...all("lag").map(([, v]) => v)));
  const replicaMax = Math.max(1, ...all("replicas").map(([, v]) => v)) + 1;
  const x = (t) => MARGIN.left + (t / xMax) * plotWidth;
  const yIn = (panel, max) => (v) => panel.top + panel.height - (v / max) * panel.height;
  const yLag = yIn(lagPanel, lagMax);
  const yReplicas = yIn(replicaPanel, replicaMax);

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${escape(chart.title)}</text>`,
  ];
  if (chart.subtitle) parts.push(`<text x="${MARGIN.left}" y="42" fill="#57606a">${escape(chart.subtitle)}</text>`);
  parts.push(...axes(lagPanel, lagMax, "lag (messages)", ticks(lagMax), yLag, x, xMax, plotWidth, false));
  parts.push(...axes(replicaPanel, replicaMax, "replicas", integerTicks(replicaMax), yReplicas, x, xMax, plotWidth, true));

  chart.series.forEach((s, i) => {
    const color = s.color ?? DEFAULT_COLORS[i % DEFAULT_COLORS.length];
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const name = escape(s.name);
    parts.push(`<polyline data-series="${name}" data-metric="lag" fill="none" stroke="${color}" stroke-width="2"${dash} points="${points(s.lag, x, yLag)}"/>`);
    parts.push(`<polyline data-series="${name}" data-metric="replicas" fill="none" stroke="${color}" stroke-width="2"${dash} points="${points(steps(s.replicas), x, yReplicas)}"/>`);
    const lx = WIDTH - MARGIN.right - 150;
    const ly = MARGIN.top + 14 + i * 18;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly}">${name}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function axes(panel, max, label, yTicks, y, x, xMax, plotWidth, withXLabels) {
  const bottom = panel.top + panel.height;
  const out = [
    `<text x="14" y="${panel.top + panel.height / 2}" transform="rotate(-90 14 ${panel.top + panel.height / 2})" text-anchor="middle" fill="#57606a">${escape(label)}</text>`,
  ];
  for (const v of yTicks) {
    out.push(`<line x1="${MARGIN.left}" y1="${fmt(y(v))}" x2="${MARGIN.left + plotWidth}" y2="${fmt(y(v))}" stroke="#d0d7de" stroke-width="1"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${fmt(y(v) + 4)}" text-anchor="end" fill="#57606a">${v}</text>`);
  }
  for (const t of ticks(xMax)) {
    out.push(`<line x1="${fmt(x(t))}" y1="${bottom}" x2="${fmt(x(t))}" y2="${bottom + 4}" stroke="#57606a"/>`);
    if (withXLabels) out.push(`<text x="${fmt(x(t))}" y="${bottom + 18}" text-anchor="middle" fill="#57606a">${t}s</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + plotWidth}" y2="${bottom}" stroke="#57606a"/>`);
  out.push(`<line x1="${MARGIN.left}" y1="${panel.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#57606a"/>`);
  if (withXLabels) out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${bottom + 36}" text-anchor="middle" fill="#57606a">seconds since the burst</text>`);
  return out;
}

/** Replicas hold their value until the next change: draw a staircase. */
function steps(series) {
  const out = [];
  series.forEach(([t, v], i) => {
    if (i > 0) out.push([t, series[i - 1][1]]);
    out.push([t, v]);
  });
  return out;
}

function points(series, x, y) {
  return series.map(([t, v]) => `${fmt(x(t))},${fmt(y(v))}`).join(" ");
}

/** 1, 2 or 5 times a power of ten, at least `v`. */
export function niceCeiling(v) {
  const step = niceStep(v / 5);
  return Math.ceil(v / step) * step;
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

function ticks(max) {
  const step = niceStep(max / 5);
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

function integerTicks(max) {
  const step = Math.max(1, Math.ceil(max / 5));
  const out = [];
  for (let v = 0; v <= max; v += step) out.push(v);
  return out;
}

function fmt(n) {
  return String(Math.round(n * 10) / 10);
}

function escape(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
