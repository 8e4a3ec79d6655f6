/**
 * The run's chart as a standalone SVG, drawn here (no dependency, no
 * browser): W2's commits/s against committers for clfs and each peer (both
 * axes log scale), and each workload's ratio to the device as a bar with the
 * issue's threshold marked.
 * @module
 */
import type { Series, Verdict } from '../core/types.ts';

const WIDTH = 1160;
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f', '#17becf'];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const n = (x: number): string => (Math.round(x * 10) / 10).toString();

function rate(y: number): string {
  if (y >= 1e6) return `${n(y / 1e6)}M`;
  if (y >= 1e3) return `${n(y / 1e3)}k`;
  return n(y);
}

/** The W2 panel: a log-log line chart, at (0, top), `height` tall. */
function seriesPanel(series: readonly Series[], top: number, height: number): string[] {
  const out: string[] = [];
  const left = 90;
  const right = WIDTH - 300;
  const bottom = top + height - 40;
  const plotTop = top + 30;
  out.push(
    `<text x="${left}" y="${top + 18}" font-size="15" font-weight="bold">W2: durable commits/s against concurrent committers (64 B records; log scales)</text>`,
  );
  const points = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  if (points.length === 0) {
    out.push(`<text x="${left}" y="${plotTop + 40}" font-size="13">W2 did not run</text>`);
    return out;
  }
  const xs = points.map((p) => Math.log10(p.x));
  const ys = points.map((p) => Math.log10(p.y));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y0 = Math.floor(Math.min(...ys));
  const y1 = Math.max(Math.ceil(Math.max(...ys)), y0 + 1);
  const px = (x: number): number => left + ((Math.log10(x) - x0) / (x1 - x0)) * (right - left);
  const py = (y: number): number => bottom - ((Math.log10(y) - y0) / (y1 - y0)) * (bottom - plotTop);
  out.push(
    `<rect x="${left}" y="${plotTop}" width="${right - left}" height="${bottom - plotTop}" fill="none" stroke="#999"/>`,
  );
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${left}" y1="${n(y)}" x2="${right}" y2="${n(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 8}" y="${n(y + 4)}" font-size="12" text-anchor="end">${rate(10 ** e)}</text>`);
  }
  const ticks = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  for (const t of ticks) {
    out.push(`<text x="${n(px(t))}" y="${bottom + 18}" font-size="12" text-anchor="middle">${t}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${bottom + 34}" font-size="12" text-anchor="middle">committers</text>`);
  out.push(
    `<text x="20" y="${(plotTop + bottom) / 2}" font-size="12" transform="rotate(-90 20 ${(plotTop + bottom) / 2})" text-anchor="middle">commits/s</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const dashed = s.name.startsWith('device');
    const pts = s.points.filter((p) => p.x > 0 && p.y > 0);
    if (pts.length === 0) return;
    const path = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${n(px(p.x))},${n(py(p.y))}`).join(' ');
    out.push(
      `<path class="series" data-name="${escapeXml(s.name)}" d="${path}" fill="none" stroke="${color}" stroke-width="${s.name === 'clfs' ? 3 : 2}"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const p of pts) out.push(`<circle cx="${n(px(p.x))}" cy="${n(py(p.y))}" r="3.5" fill="${color}"/>`);
    const ly = plotTop + 10 + i * 20;
    out.push(
      `<line x1="${right + 16}" y1="${ly}" x2="${right + 40}" y2="${ly}" stroke="${color}" stroke-width="3"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${right + 46}" y="${ly + 4}" font-size="12">${escapeXml(s.name)}</text>`);
  });
  return out;
}

/**
 * The bar panel: each verdict as the fraction of its bar reached (value /
 * threshold where higher is better, threshold / value where lower is), so
 * the threshold is the same vertical line for all; the text gives the real
 * numbers.
 */
function verdictPanel(verdicts: readonly Verdict[], top: number): string[] {
  const out: string[] = [];
  const labelWidth = 640;
  const left = labelWidth + 10;
  const right = WIDTH - 30;
  const scaleMax = 2;
  const x = (f: number): number => left + (Math.min(Math.max(f, 0), scaleMax) / scaleMax) * (right - left);
  out.push(
    `<text x="20" y="${top + 18}" font-size="15" font-weight="bold">Each workload against the device: fraction of the issue's bar reached (the line at 1 is the bar)</text>`,
  );
  const rowTop = top + 34;
  verdicts.forEach((v, i) => {
    const y = rowTop + i * 26;
    const f = !Number.isFinite(v.value)
      ? Number.NaN
      : v.better === 'higher'
        ? v.value / v.threshold
        : v.threshold / v.value;
    const color = v.result === 'met' ? '#2ca02c' : v.result === 'missed' ? '#d62728' : '#bbbbbb';
    const value = Number.isFinite(v.value) ? (Math.abs(v.value) >= 1000 ? rate(v.value) : v.value.toFixed(2)) : 'n/a';
    out.push(
      `<text x="20" y="${y + 14}" font-size="12">${escapeXml(`${v.what}: ${value} (bar ${v.bar})`).slice(0, 400)}</text>`,
    );
    if (Number.isFinite(f)) {
      out.push(
        `<rect class="bar" data-result="${v.result}" x="${left}" y="${y + 2}" width="${n(x(f) - left)}" height="16" fill="${color}"/>`,
      );
      out.push(`<text x="${n(Math.min(x(f) + 4, right - 40))}" y="${y + 14}" font-size="11">${f.toFixed(2)}</text>`);
    }
  });
  const bottom = rowTop + verdicts.length * 26;
  out.push(
    `<line class="threshold" x1="${n(x(1))}" y1="${rowTop - 4}" x2="${n(x(1))}" y2="${bottom}" stroke="#000" stroke-width="2" stroke-dasharray="4 3"/>`,
  );
  out.push(`<text x="${n(x(1))}" y="${bottom + 14}" font-size="11" text-anchor="middle">bar</text>`);
  out.push(`<text x="${left}" y="${bottom + 14}" font-size="11">0</text>`);
  out.push(`<text x="${right}" y="${bottom + 14}" font-size="11" text-anchor="end">${scaleMax}x the bar</text>`);
  return out;
}

/** The whole chart: a title line, the W2 panel, the verdict bars. */
export function renderChart(title: string, series: readonly Series[], verdicts: readonly Verdict[]): string {
  const seriesHeight = 340;
  const barsTop = 40 + seriesHeight + 20;
  const height = barsTop + 34 + verdicts.length * 26 + 40;
  const body = [
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="20" y="24" font-size="13" fill="#333">${escapeXml(title)}</text>`,
    ...seriesPanel(series, 40, seriesHeight),
    ...verdictPanel(verdicts, barsTop),
  ];
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">\n` +
    `${body.join('\n')}\n</svg>\n`
  );
}
