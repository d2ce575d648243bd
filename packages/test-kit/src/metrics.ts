/** Reading a server's Prometheus metrics. */

/** One metric sample from a Prometheus text exposition, or 0 when it is absent. */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  const labelText = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const prefix = labelText ? `${name}{${labelText}} ` : `${name} `;
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}

/** GET /metrics of a server (anything with an `httpUrl`, e.g. a `HeraldServer`). */
export async function scrape(server: { readonly httpUrl: string }): Promise<string> {
  const response = await fetch(`${server.httpUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}
