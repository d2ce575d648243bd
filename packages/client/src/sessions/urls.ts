import { HTTP_PATH } from '@herald/shared/internal';

/** The HTTP endpoint beside a WebSocket URL: same host, `http(s):`, path `/trpc`. */
export function httpUrlOf(webSocketUrl: string): string {
  const url = new URL(webSocketUrl);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  url.pathname = HTTP_PATH;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** `url` with `name=value` added to its query string. */
export function withQueryParam(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}
