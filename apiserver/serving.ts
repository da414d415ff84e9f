// Listening and stopping, shared by standalone and cluster mode.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { admissionReviewRouter } from '../webhooks/admissionreview.ts';

/**
 * Request header bytes accepted, as Go's http.Server allows by default (1 MiB). Node's 16 KiB default
 * turned a long label or field selector into a bare 431 without a Status, where kube-apiserver serves it.
 */
export const maxHeaderBytes = 1 << 20;

/** Listen and resolve to the port actually bound (the port asked for may be 0). */
export async function listen(server: https.Server, port: number, bindAddress: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindAddress, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export const urlHost = (bindAddress: string) =>
  bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress;

/** Stop accepting, then end long-running requests (watches) rather than wait out their timeouts. */
export function closeGracefully(server: https.Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    setTimeout(() => server.closeAllConnections(), 200).unref();
  });
}

/**
 * BMO's AdmissionReview endpoints on a listener of their own: kube-apiserver calls webhooks without a
 * client certificate unless configured to, so they cannot share the API's authenticated listener.
 */
export async function startAdmissionReviewServer(opts: {
  port: number;
  bindAddress: string;
  key: string;
  cert: string;
  enableFakeBMC: boolean;
}): Promise<{ url: string; close(): void }> {
  const app = express();
  app.disable('x-powered-by');
  app.use(admissionReviewRouter({ enableFakeBMC: opts.enableFakeBMC }));
  const server = https.createServer({ key: opts.key, cert: opts.cert, minVersion: 'TLSv1.2' }, app);
  const port = await listen(server, opts.port, opts.bindAddress);
  return {
    url: `https://${urlHost(opts.bindAddress)}:${port}`,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
