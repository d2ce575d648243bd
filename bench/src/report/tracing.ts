import { fmt } from '../lib/log.js';
import { median } from '../lib/stats.js';
import { tracingRatios, type TracingRow } from '../scenarios/tracing.js';
import type { SuiteResults } from './results.js';
import type { TargetLine } from './targets.js';

/** Installed without an SDK, tracing must cost about nothing: within this of the server without the API. */
const NO_SDK_TARGET = 1.1;

const LOADS = [
  { load: 'rpc', label: 'RPC server CPU per call (100 connections)' },
  { load: 'fanout', label: 'fan-out server CPU per delivery (fixed rate)' },
] as const;

const ratioText = (ratios: readonly number[]) =>
  ratios.length === 0 ? 'n/a' : `${fmt(median(ratios))}x (${ratios.map((value) => fmt(value)).join(', ')} by round)`;

/** The summary's lines: @opentelemetry/api installed with no SDK over not installed, per load; with an SDK, as a note. */
export function tracingTargetLines(results: SuiteResults): TargetLine[] {
  const rows = results.tracing ?? [];
  return LOADS.map(({ load, label }) => {
    const ratios = tracingRatios(rows, load, 'no-sdk');
    const withSdk = tracingRatios(rows, load, 'sdk');
    return {
      label: `OpenTelemetry installed, no SDK registered: ${label} vs not installed`,
      value: ratios.length === 0 ? 'n/a' : `${fmt(median(ratios))}x`,
      target: `≤ ${NO_SDK_TARGET}x`,
      met: ratios.length === 0 ? null : median(ratios) <= NO_SDK_TARGET,
      ...(withSdk.length > 0 ? { note: `with an SDK recording every span, no exporter: ${fmt(median(withSdk))}x` } : {}),
    };
  });
}

/** The section of results.md: the tracing scenario (scenarios/tracing.ts). */
export function tracingSection(results: SuiteResults): string[] {
  const rows: readonly TracingRow[] = results.tracing ?? [];
  const out = ['## OpenTelemetry', ''];
  if (rows.length === 0) return [...out, 'Not run in this invocation.', ''];
  out.push(
    'Three Herald servers up at once, measured in turn for several rounds: **absent** cannot import `@opentelemetry/api` (as an app ' +
      'that does not install it), **no-sdk** has it and no SDK registered, **sdk** has a Node SDK\'s parts registered (AsyncLocalStorage ' +
      'context, W3C propagation, every span sampled, no exporter). Loads: a trivial query from Herald\'s client at 100 connections × 1 in ' +
      'flight, and a fixed-rate fan-out published in the server process. Ratios are server CPU per event over **absent**\'s, in the same round.',
    '',
    '| load | mode | round | events/s | server CPU µs/event |',
    '|---|---|---|---|---|',
  );
  for (const row of rows) {
    out.push(`| ${row.load} | ${row.mode} | ${row.round} | ${fmt(row.measurement.rate.value)} | ${fmt(row.measurement.cpuUsPerEvent.value)} |`);
  }
  out.push('');
  for (const { load, label } of LOADS) {
    out.push(`- ${label}: no-sdk ${ratioText(tracingRatios(rows, load, 'no-sdk'))}; sdk ${ratioText(tracingRatios(rows, load, 'sdk'))}`);
  }
  out.push('');
  return out;
}
