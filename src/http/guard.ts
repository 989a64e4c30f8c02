/**
 * What a hostile web page on the same machine must not be able to do with
 * perfprobe's server (issue 10), checked before any route runs:
 *
 * - DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 is
 *   same-origin with the server and could read every answer. Every request
 *   must carry a Host the server knows: the address the connection arrived
 *   on, `localhost`, `127.0.0.1` or `[::1]`, with the server's port, or a
 *   name the user allowed (`allowedHosts`; `'*'` allows any).
 * - Cross-site requests: a present `Origin` must be the server's own (its
 *   host and port equal the request's Host), so no other page can POST
 *   (a no-cors fetch or a form always carries an Origin on POST).
 * - Forms: a mutating route takes a body only as `Content-Type:
 *   application/json`, which a form (text/plain, urlencoded, multipart) or a
 *   no-cors fetch cannot send; a Content-Type that is anything else is
 *   refused even without a body (an empty form POST has one).
 * - The dashboard's cookie: named per port (cookies are not scoped by port,
 *   so every app on 127.0.0.1 receives them) and holding an HMAC of the
 *   token, never the token.
 * - The token itself (tokenCheck): compared as fixed-length digests in
 *   constant time; the REST API and /metrics take it only as a Bearer
 *   header, the dashboard's GETs also as ?token= or that cookie.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { typeError } from '../errors.js';

/** Names always accepted in Host (with the server's port). */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface HostPolicy {
  /** allowedHosts contained '*': any Host. */
  readonly any: boolean;
  /** Names allowed with any port (lower case; IPv6 literals in brackets). */
  readonly names: ReadonlySet<string>;
  /** name:port pairs allowed exactly. */
  readonly pairs: ReadonlySet<string>;
}

// A host name, an IPv4 address or a bracketed IPv6 literal, optionally :port.
const HOST_ENTRY = /^(?:\*|(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::\d{1,5})?)$/;

/** Checks `allowedHosts` (an array of host names, `name:port`, or `'*'`) and compiles it. */
export function hostPolicy(allowedHosts: unknown): HostPolicy {
  const names = new Set<string>();
  const pairs = new Set<string>();
  let any = false;
  if (allowedHosts === undefined) return { any, names, pairs };
  if (!Array.isArray(allowedHosts)) throw typeError('allowedHosts', 'an array of host names', allowedHosts);
  allowedHosts.forEach((entry: unknown, i) => {
    const e = typeof entry === 'string' ? entry.trim().toLowerCase() : '';
    if (!HOST_ENTRY.test(e)) {
      throw typeError(`allowedHosts[${i}]`, "a host name, an IP address, name:port or '*'", entry);
    }
    if (e === '*') any = true;
    else if (/:\d+$/.test(e) && !e.endsWith(']')) pairs.add(e);
    else names.add(e);
  });
  return { any, names, pairs };
}

/** Splits a Host header value into its name (lower case, IPv6 in brackets) and port ('' when absent). */
export function splitHost(host: string): { name: string; port: string } | null {
  const h = host.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? { name: m[1]!, port: m[2] ?? '' } : null;
}

/** The address the connection arrived on, as it appears in a Host header. */
function localName(req: IncomingMessage): string | null {
  let a = req.socket?.localAddress;
  if (!a) return null;
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  return a.includes(':') ? `[${a.toLowerCase()}]` : a;
}

const defaultPort = (req: IncomingMessage): number => ((req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 443 : 80);

/** Why this request's Host is refused, or null when it is accepted. A request without Host (HTTP/1.0, never a browser) is accepted. */
export function hostRefusal(req: IncomingMessage, policy: HostPolicy): string | null {
  const raw = req.headers.host;
  if (raw === undefined || policy.any) return null;
  const host = splitHost(raw);
  if (host) {
    const localPort = req.socket?.localPort;
    const portMatches = localPort === undefined || host.port === String(localPort) || (host.port === '' && localPort === defaultPort(req));
    if (portMatches && (LOOPBACK_NAMES.has(host.name) || host.name === localName(req))) return null;
    if (policy.names.has(host.name) || policy.pairs.has(`${host.name}:${host.port}`)) return null;
  }
  return `Host ${JSON.stringify(raw.slice(0, 200))} is not this server's address; allow a name with the allowedHosts option (perfprobe serve --allow-host NAME)`;
}

/**
 * Why this request's Origin is refused, or null: a present Origin must name
 * the same host and port as the request's Host (which hostRefusal has
 * vetted). The scheme is not compared, so a TLS proxy in front still works:
 * no page can have our host and port with another scheme.
 */
export function originRefusal(req: IncomingMessage): string | null {
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let originHost: string | null = null;
  try {
    const u = new URL(origin);
    if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.host;
  } catch {
    /* 'null' (sandboxed frames, file: pages) and junk are not our origin */
  }
  const host = req.headers.host?.trim().toLowerCase();
  if (originHost !== null && host !== undefined && (originHost === host || originHost === host.replace(/:(80|443)$/, ''))) return null;
  return `Origin ${JSON.stringify(origin.slice(0, 200))} is not this server's origin: cross-site requests are refused`;
}

/**
 * Why a mutating request's body type is refused, or null: a body needs
 * Content-Type: application/json (charset utf-8 if one is named); any other
 * Content-Type is refused even with an empty body.
 */
export function bodyTypeRefusal(req: IncomingMessage): string | null {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (type === undefined) return hasBody ? 'a request body needs Content-Type: application/json' : null;
  const [media, ...params] = type.split(';').map((s) => s.trim().toLowerCase());
  if (media !== 'application/json') return `Content-Type must be application/json, got ${JSON.stringify(type.slice(0, 100))}`;
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8') return `Content-Type charset must be utf-8, got ${JSON.stringify(v)}`;
  }
  return null;
}

/** Name of the dashboard's cookie for the server on `port`. */
export function dashboardCookieName(port: number | undefined): string {
  return `perfprobe_token_${port ?? 0}`;
}

/** The cookie's value: an HMAC of a fixed message and the port, keyed by the token (hex). Never the token. */
export function dashboardCookieValue(token: string, port: number | undefined): string {
  return createHmac('sha256', token).update(`perfprobe dashboard cookie v1 port ${port ?? 0}`).digest('hex');
}

/** The value of cookie `name` in a Cookie header, or null. */
function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** SHA-256 of s: fixed-length, so timingSafeEqual can compare any two. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export interface TokenCheck {
  /** The REST API and /metrics: `Authorization: Bearer <token>` (always true without a token). */
  authorised(req: IncomingMessage): boolean;
  /** The dashboard's GET routes: the header, `?token=` (which sets the cookie) or the cookie. */
  authorisedBrowser(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
}

/** The token checks of a handler whose token is `token` (undefined: every request is authorised). */
export function tokenCheck(token: string | undefined): TokenCheck {
  const want = token === undefined ? null : digest(token);

  // Compare fixed-length digests in constant time.
  const matches = (given: string | null): boolean => timingSafeEqual(digest(given ?? ''), want!) && given !== null;
  const authorised = (req: IncomingMessage): boolean => {
    if (want === null) return true;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(h) : null;
    return matches(m ? m[1]! : null);
  };
  /**
   * A browser cannot put a header on the dashboard page, its assets or its
   * EventSource, so GETs to the extra (dashboard) routes also accept the
   * token as `?token=` (which then sets an HttpOnly, SameSite=Strict cookie
   * for the page's own requests) or as that cookie. The cookie is named
   * after the server's port and holds an HMAC of the token (dashboardCookieValue):
   * cookies are not scoped by port, so other apps on the same host receive
   * it. The REST API and /metrics keep requiring the header: no
   * cookie-authenticated POSTs.
   */
  const cookieValues = new Map<number, Buffer>();
  const cookieDigest = (port: number): Buffer => {
    let d = cookieValues.get(port);
    if (!d) cookieValues.set(port, (d = digest(dashboardCookieValue(token!, port))));
    return d;
  };
  const authorisedBrowser = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (authorised(req)) return true;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const port = req.socket?.localPort ?? 0;
    const name = dashboardCookieName(port);
    if (matches(url.searchParams.get('token'))) {
      res.setHeader('set-cookie', `${name}=${dashboardCookieValue(token!, port)}; Path=/; HttpOnly; SameSite=Strict`);
      return true;
    }
    const given = readCookie(req.headers.cookie, name);
    return timingSafeEqual(digest(given ?? ''), cookieDigest(port)) && given !== null;
  };
  return { authorised, authorisedBrowser };
}
