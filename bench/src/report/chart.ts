import { Resvg } from '@resvg/resvg-js';
import { SYSTEM_LABELS } from '../servers/index.js';
import type { SystemName } from '../lib/protocol.js';
import { fmt } from '../lib/log.js';
import type { SuiteResults } from './results.js';

const COLORS: Record<SystemName, string> = {
  'raw-ws-string': '#7f8c8d',
  'raw-ws-frame': '#bdc3c7',
  'raw-ws-trpc': '#95a5a6',
  'raw-ws-ping': '#a3b1b2',
  'raw-ws-textping': '#b0bcbd',
  trpc: '#e67e22',
  socketio: '#8e44ad',
  herald: '#2a9d8f',
};

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round axis maximum above `value` (1, 2, 2.5, 5 × 10^k). */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

interface Panel {
  readonly title: string;
  readonly mode: 'max' | 'fixed';
}

/**
 * Grouped bars of server CPU per delivery, by subscriber count and system: one
 * panel at max rate, one at the fixed rate. Plain SVG, rendered to PNG with resvg.
 */
export function fanoutChartSvg(results: SuiteResults): string {
  const systems = [...new Set(results.fanout.map((row) => row.system))];
  const counts = [...new Set(results.fanout.map((row) => row.subscribers))].sort((a, b) => a - b);
  const panels: Panel[] = [
    { title: 'max rate (closed loop)', mode: 'max' },
    { title: `fixed ${results.config.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s`, mode: 'fixed' },
  ];
  const width = 1200;
  const height = 560;
  const top = 110;
  const bottom = 70;
  const panelWidth = width / panels.length;
  const plotHeight = height - top - bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="30" font-size="20" font-weight="bold" text-anchor="middle">Server CPU per delivered message (µs, lower is better)</text>`,
    `<text x="${width / 2}" y="52" font-size="13" text-anchor="middle" fill="#555">${escapeXml(
      `219-byte message fanned out to N WebSocket subscribers; ${results.environment.cpuModel}, ${results.environment.cores} cores, Node ${results.environment.node}; ${results.config.name} run ${results.environment.date.slice(0, 10)}`,
    )}</text>`,
  ];
  // Legend
  const legendWidth = systems.length * 190;
  systems.forEach((system, index) => {
    const x = width / 2 - legendWidth / 2 + index * 190;
    parts.push(`<rect x="${x}" y="66" width="14" height="14" fill="${COLORS[system]}"/>`);
    parts.push(`<text x="${x + 20}" y="78" font-size="13">${escapeXml(SYSTEM_LABELS[system])}</text>`);
  });

  panels.forEach((panel, panelIndex) => {
    const left = panelIndex * panelWidth + 70;
    const plotWidth = panelWidth - 100;
    const value = (system: SystemName, count: number) =>
      results.fanout.find((row) => row.system === system && row.subscribers === count && row.mode === panel.mode)?.measurement.cpuUsPerEvent.value ?? Number.NaN;
    const max = niceMax(Math.max(...systems.flatMap((system) => counts.map((count) => value(system, count))).filter(Number.isFinite), 0));
    const y = (v: number) => top + plotHeight - (v / max) * plotHeight;
    parts.push(`<text x="${left + plotWidth / 2}" y="${top - 8}" font-size="15" font-weight="bold" text-anchor="middle">${escapeXml(panel.title)}</text>`);
    for (let i = 0; i <= 5; i++) {
      const tick = (max * i) / 5;
      parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${left - 8}" y="${y(tick) + 4}" font-size="12" text-anchor="end" fill="#333">${Number.isInteger(tick) ? String(tick) : tick.toFixed(1)}</text>`);
    }
    parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotHeight}" stroke="#333"/>`);
    parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${top + plotHeight}" y2="${top + plotHeight}" stroke="#333"/>`);
    const groupWidth = plotWidth / Math.max(1, counts.length);
    const barWidth = Math.min(34, (groupWidth * 0.8) / Math.max(1, systems.length));
    counts.forEach((count, groupIndex) => {
      const groupLeft = left + groupIndex * groupWidth + (groupWidth - barWidth * systems.length) / 2;
      systems.forEach((system, barIndex) => {
        const v = value(system, count);
        if (!Number.isFinite(v)) return;
        const x = groupLeft + barIndex * barWidth;
        parts.push(`<rect x="${x + 1}" y="${y(v)}" width="${barWidth - 2}" height="${top + plotHeight - y(v)}" fill="${COLORS[system]}"/>`);
        parts.push(
          `<text x="${x + barWidth / 2}" y="${y(v) - 4}" font-size="10" text-anchor="middle" fill="#222">${fmt(v, v < 10 ? 2 : 1)}</text>`,
        );
      });
      parts.push(
        `<text x="${left + groupIndex * groupWidth + groupWidth / 2}" y="${top + plotHeight + 20}" font-size="13" text-anchor="middle">${count.toLocaleString('en-US')} subscribers</text>`,
      );
    });
    parts.push(
      `<text x="${left - 50}" y="${top + plotHeight / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${left - 50} ${top + plotHeight / 2})">µs of server CPU per delivery</text>`,
    );
  });
  parts.push(
    `<text x="${width / 2}" y="${height - 18}" font-size="12" text-anchor="middle" fill="#555">Server pinned to one core, load generator to the other; CPU from process.cpuUsage() in the server process.</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Renders the SVG to PNG with system fonts (warns when none are found: the text would be missing). */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' });
  return Buffer.from(resvg.render().asPng());
}
