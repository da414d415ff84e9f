// Posting an AdmissionReview to a webhook over HTTPS, with kube's target resolution, deadline and the
// Go-worded errors a user of kube-apiserver would see (k8s.io/apiserver/pkg/util/webhook, client-go rest).
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate } from 'node:tls';

export interface ServiceReference {
  namespace: string;
  name: string;
  path?: string;
  port?: number;
}

export interface WebhookClientConfig {
  url?: string;
  service?: ServiceReference;
  /** Base64 PEM of the CA bundle that signs the webhook's serving certificate. */
  caBundle?: string;
}

/** Where a service-backed webhook is reached; kube's default resolver gives the in-cluster DNS name. */
export type ServiceResolver = (namespace: string, name: string, port: number) => URL;

export const defaultServiceResolver: ServiceResolver = (namespace, name, port) =>
  new URL(`https://${name}.${namespace}.svc:${port}`);

export interface WebhookTarget {
  url: URL;
  /** The URL as kube prints it in errors (Go keeps an explicit :443). */
  display: string;
  /** TLS server name to verify: the service's DNS name, whatever address it resolves to. */
  serverName?: string;
  caBundle?: string;
}

/** A failure reaching the webhook, worded as Go's http client and client-go's rest client word it. */
export class WebhookCallError extends Error {}

export function resolveTarget(config: WebhookClientConfig, resolver: ServiceResolver): WebhookTarget {
  if (config.url !== undefined) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new WebhookCallError(`could not get REST client: parse ${JSON.stringify(config.url)}: invalid URL`);
    }
    if (url.protocol !== 'https:') throw new WebhookCallError(`could not get REST client: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}`);
    return { url, display: config.url, caBundle: config.caBundle };
  }
  if (config.service) {
    const { namespace, name } = config.service;
    const port = config.service.port ?? 443;
    const path = config.service.path ?? '';
    const base = resolver(namespace, name, port);
    const url = new URL(path || '/', base);
    const display = `${base.protocol}//${base.hostname}:${base.port || port}${path}`;
    return { url, display, serverName: `${name}.${namespace}.svc`, caBundle: config.caBundle };
  }
  throw new WebhookCallError('could not get REST client: webhook clientConfig has neither url nor service');
}

/** The CA bundle as PEM, or a Go-worded reason it cannot be used. */
export function caBundlePEM(caBundle: string | undefined): string | undefined {
  if (!caBundle) return undefined;
  const pem = Buffer.from(caBundle, 'base64').toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new WebhookCallError('could not get REST client: unable to load root certificates: unable to parse bytes as PEM block');
  }
  return pem;
}

/** client-go's NewGenericServerResponse message for a status without a Status body. */
function genericServerMessage(code: number, body: string): string {
  const serverMessage = body.trim() && body.length < 1024 ? body.trim() : 'unknown';
  switch (code) {
    case 400: return 'the server rejected our request for an unknown reason';
    case 401: return 'the server has asked for the client to provide credentials';
    case 403: return serverMessage;
    case 404: return 'the server could not find the requested resource';
    case 405: return 'the server does not allow this method on the requested resource';
    case 406: return serverMessage === 'unknown' ? 'the server was unable to respond with a content type that the client supports' : serverMessage;
    case 409: return 'the server reported a conflict';
    case 415: return serverMessage;
    case 422: return 'the server rejected our request due to an error in our request';
    case 429: return 'the server has received too many requests and has asked us to try again later';
    case 503: return 'the server is currently unable to handle the request';
    case 504: return 'the server was unable to return a response in the time allotted, but may still be processing the request';
    default:
      return code >= 500
        ? `an error on the server (${JSON.stringify(serverMessage)}) has prevented the request from succeeding`
        : `the server responded with the status code ${code} but did not return more information`;
  }
}

function statusMessage(code: number, body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && (parsed as { kind?: unknown }).kind === 'Status') {
      const message = (parsed as { message?: unknown }).message;
      if (typeof message === 'string' && message) return message;
    }
  } catch {
    // not a Status: fall through to client-go's generic wording
  }
  return genericServerMessage(code, body);
}

const unknownAuthority = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  // A CA of the same name that did not sign it: Go finds no authority either.
  'CERT_SIGNATURE_FAILURE',
]);

interface NodeNetError extends Error {
  code?: string;
  address?: string;
  port?: number;
  hostname?: string;
  host?: string;
  cert?: PeerCertificate;
}

/** Go's net/http and crypto/x509 wording for what Node reports. */
function goNetError(e: NodeNetError): string {
  const tlsFail = 'tls: failed to verify certificate: x509:';
  switch (e.code) {
    case 'ECONNREFUSED': return `dial tcp ${e.address}:${e.port}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `dial tcp: lookup ${e.hostname}: no such host`;
    case 'ECONNRESET': return 'EOF';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID': return `${tlsFail} certificate has expired or is not yet valid`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = (e.cert?.subjectaltname ?? '').split(', ').map((n) => n.replace(/^(DNS|IP Address):/, '')).filter(Boolean);
      return names.length
        ? `${tlsFail} certificate is valid for ${names.join(', ')}, not ${e.host}`
        : `${tlsFail} certificate is not valid for any names, but wanted to match ${e.host}`;
    }
  }
  if (e.code && unknownAuthority.has(e.code)) return `${tlsFail} certificate signed by unknown authority`;
  return e.message;
}

/** Webhook responses beyond this are refused rather than buffered. */
const maxResponseBytes = 16 * 1024 * 1024;

export interface PostOptions {
  timeoutSeconds: number;
  agent: https.Agent;
}

/**
 * POST the review and return the decoded JSON response. Throws WebhookCallError with the text kube puts
 * after "failed to call webhook: ".
 */
export function postJSON(target: WebhookTarget, body: unknown, opts: PostOptions): Promise<unknown> {
  const url = new URL(target.url);
  // client-go tells the webhook its deadline, and that query is part of the URL kube prints.
  url.searchParams.set('timeout', `${opts.timeoutSeconds}s`);
  const sep = target.display.includes('?') ? '&' : '?';
  const shown = `Post ${JSON.stringify(`${target.display}${sep}timeout=${opts.timeoutSeconds}s`)}`;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    };
    const req = https.request(url, {
      method: 'POST',
      agent: opts.agent,
      servername: target.serverName,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, */*',
        'Content-Length': payload.length,
        'User-Agent': 'metal3-apiserver-admission',
      },
    });
    const timer = setTimeout(() => {
      finish(new WebhookCallError(`${shown}: context deadline exceeded`));
      req.destroy();
    }, opts.timeoutSeconds * 1000);
    req.on('error', (e: NodeNetError) => finish(new WebhookCallError(`${shown}: ${goNetError(e)}`)));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxResponseBytes) {
          finish(new WebhookCallError(`${shown}: response body exceeds ${maxResponseBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e: NodeNetError) => finish(new WebhookCallError(`${shown}: ${goNetError(e)}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) return finish(new WebhookCallError(statusMessage(code, text)));
        if (!text.length) {
          return finish(new WebhookCallError(`0-length response with status code: ${code} and content type: ${res.headers['content-type'] ?? ''}`));
        }
        try {
          finish(undefined, JSON.parse(text));
        } catch (e) {
          finish(new WebhookCallError(`couldn't get version/kind; json parse error: ${(e as Error).message}`));
        }
      });
    });
    req.end(payload);
  });
}
