// Shared by the auth-* tests: three CAs (cluster, front proxy, foreign), a fake kube-apiserver answering the
// calls delegated auth makes, and a TLS client that presents a chosen certificate and headers.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStandalonePKI, issueClientCertificate } from '../../apiserver/auth/pki.ts';
import type { IssuedCertificate, PKI } from '../../apiserver/auth/pki.ts';
import { ClusterClient } from '../../apiserver/auth/kubeapi.ts';

export interface Certs {
  dir: string;
  cluster: PKI;
  proxy: PKI;
  foreign: PKI;
  frontProxy: IssuedCertificate;
  otherProxy: IssuedCertificate;
  forgedProxy: IssuedCertificate;
  alice: IssuedCertificate;
  cleanup(): void;
}

export async function makeCerts(): Promise<Certs> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-test-'));
  const hosts = { hosts: ['127.0.0.1', 'localhost'] };
  const [cluster, proxy, foreign] = await Promise.all([
    ensureStandalonePKI(join(dir, 'cluster'), hosts),
    ensureStandalonePKI(join(dir, 'proxy'), hosts),
    ensureStandalonePKI(join(dir, 'foreign'), hosts),
  ]);
  return {
    dir,
    cluster,
    proxy,
    foreign,
    frontProxy: issueClientCertificate(proxy, 'front-proxy-client', []),
    otherProxy: issueClientCertificate(proxy, 'someone-else', []),
    forgedProxy: issueClientCertificate(foreign, 'front-proxy-client', []),
    alice: issueClientCertificate(cluster, 'alice', ['dev', 'ops']),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const portOf = (s: Server) => (s.address() as AddressInfo).port;

export async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export const close = (s: Server) =>
  new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

export interface Recorded {
  method: string;
  path: string;
  body: unknown;
  /** CN of the client certificate the caller presented. */
  caller: string | undefined;
}

export type Answer = { status: number; body: unknown };

/** A kube-apiserver stand-in: routes by "METHOD path" to handlers, records every call. */
export class FakeKubeAPIServer {
  readonly calls: Recorded[] = [];
  readonly routes = new Map<string, (body: unknown) => Answer>();
  server!: Server;

  async start(certs: Certs): Promise<this> {
    this.server = createServer(
      { key: certs.cluster.serverKey, cert: certs.cluster.serverCert, ca: [certs.cluster.caCert], requestCert: true, rejectUnauthorized: true },
      (req: IncomingMessage, res: ServerResponse) => {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (c: string) => (text += c));
        req.on('end', () => {
          const path = new URL(req.url ?? '/', 'https://x').pathname;
          const body: unknown = text ? JSON.parse(text) : undefined;
          const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
          this.calls.push({ method: req.method ?? '', path, body, caller: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined });
          const route = this.routes.get(`${req.method} ${path}`);
          const answer = route ? route(body) : { status: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'not found', reason: 'NotFound', code: 404 } };
          res.writeHead(answer.status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(answer.body));
        });
      },
    );
    await listen(this.server);
    return this;
  }

  callsTo(method: string, path: string): Recorded[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  /** A client as our server would build from its kubeconfig (the admin certificate of the cluster CA). */
  client(certs: Certs): ClusterClient {
    return new ClusterClient(
      { server: `https://127.0.0.1:${portOf(this.server)}`, caPem: certs.cluster.caCert, certPem: certs.cluster.adminCert, keyPem: certs.cluster.adminKey },
      { retries: 1, backoffMs: 5 },
    );
  }

  stop(): Promise<void> {
    return close(this.server);
  }
}

export const CONFIGMAP_PATH = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
export const TOKENREVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const SAR_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/** The ConfigMap kube-apiserver writes when started with front-proxy flags. */
export function authenticationConfigMapData(certs: Certs, allowedNames = ['front-proxy-client']): Record<string, string> {
  return {
    'client-ca-file': certs.cluster.caCert,
    'requestheader-client-ca-file': certs.proxy.caCert,
    'requestheader-allowed-names': JSON.stringify(allowedNames),
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
}

export interface Reply {
  status: number;
  body: string;
  json(): Record<string, unknown>;
}

/** One request on a fresh connection (agent: false), so no TLS session carries one identity into another test. */
export function call(
  port: number,
  path: string,
  opts: { ca: string; cert?: IssuedCertificate; headers?: OutgoingHttpHeaders; method?: string } ,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        agent: false,
        ca: opts.ca,
        cert: opts.cert?.cert,
        key: opts.cert?.key,
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
