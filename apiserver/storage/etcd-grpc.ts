// gRPC to etcd over Node's own HTTP/2: unary calls and bidirectional watch streams, one connection to one
// member at a time, moving to the next member when that connection fails. gRPC's framing is a flag byte and
// a 4-byte length before each message; the call's outcome is the grpc-status trailer.
import http2 from 'node:http2';

export interface EtcdConnectionOptions {
  /** Client URLs of the members (http:// or https://). */
  endpoints: string[];
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Deadline of each unary call. */
  requestTimeoutMs: number;
}

/** A call that failed: code is gRPC's status code (14 UNAVAILABLE for a connection that failed). */
export class GrpcError extends Error {
  readonly code: number;
  /** The request never left: it is safe to send again, whatever it was. */
  readonly unsent: boolean;
  constructor(code: number, message: string, unsent = false) {
    super(message);
    this.code = code;
    this.unsent = unsent;
  }
}

const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
const PING_TIMEOUT_MS = 2000;

/**
 * Splits a stream of gRPC frames into messages, however the data chunks fall. Chunks are joined once a
 * whole message has arrived, so a list of many megabytes in 16 KiB chunks is copied once, not per chunk.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The length of the message being received, once its 5-byte prefix is in. */
  private need: number | undefined;

  push(chunk: Buffer, onMessage: (m: Buffer) => void): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    for (;;) {
      if (this.need === undefined) {
        if (this.pendingBytes < 5) return;
        const head = this.take(5);
        if (head[0] !== 0) throw new GrpcError(13, 'etcd sent a compressed message, which was not asked for');
        this.need = head.readUInt32BE(1);
      }
      if (this.pendingBytes < this.need) return;
      const message = this.take(this.need);
      this.need = undefined;
      onMessage(message);
    }
  }

  /** The first n pending bytes, joined; the rest stays pending. */
  private take(n: number): Buffer {
    const joined = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    const rest = joined.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return joined.subarray(0, n);
  }
}

export function frame(message: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message], 5 + message.length);
}

/** grpc-message is percent-encoded. */
function grpcMessage(headers: http2.IncomingHttpHeaders): string {
  const raw = headers['grpc-message'];
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (!text) return '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The headers of every gRPC call: a POST to /package.Service/Method, trailers expected. */
const grpcHeaders = (path: string): http2.OutgoingHttpHeaders => ({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });

function grpcStatus(headers: http2.IncomingHttpHeaders): number | undefined {
  const raw = headers['grpc-status'];
  return raw === undefined ? undefined : Number(Array.isArray(raw) ? raw[0] : raw);
}

export interface WatchStream {
  write(message: Buffer): void;
  /** Ends the stream from this side; no more callbacks follow. */
  cancel(): void;
}

export interface WatchCallbacks {
  onMessage(m: Buffer): void;
  /** The stream ended or failed; not called after cancel(). */
  onEnd(err: Error): void;
}

export class EtcdConnection {
  private readonly opts: EtcdConnectionOptions;
  private session: http2.ClientHttp2Session | undefined;
  private connecting: Promise<http2.ClientHttp2Session> | undefined;
  /** The endpoint the next connection tries; it moves on after every failure. */
  private next = 0;
  private closed = false;

  constructor(opts: EtcdConnectionOptions) {
    if (!opts.endpoints.length) throw new Error('etcd storage needs at least one endpoint');
    this.opts = opts;
  }

  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  /**
   * One request, one response. A failure to connect is retried on the other members within the deadline;
   * so is a lost connection when the request is `idempotent` (a read). A write whose connection was lost
   * is in doubt and fails: repeating its compare would report the write's own success as a conflict.
   */
  async unary(path: string, request: Buffer, idempotent = false): Promise<Buffer> {
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.call(await this.connect(deadline), path, request, deadline);
      } catch (err) {
        const retriable = err instanceof GrpcError && err.code === UNAVAILABLE && (err.unsent || idempotent);
        if (!retriable || this.closed || Date.now() >= deadline || attempt >= this.opts.endpoints.length * 3) throw err;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }

  /** A bidirectional stream (Watch/Watch) on the current member. */
  async stream(path: string, callbacks: WatchCallbacks): Promise<WatchStream> {
    const session = await this.connect(Date.now() + this.opts.requestTimeoutMs);
    const req = session.request(grpcHeaders(path), { endStream: false });
    const reader = new FrameReader();
    let done = false;
    const end = (err: Error) => {
      if (done) return;
      done = true;
      req.close(http2.constants.NGHTTP2_CANCEL);
      callbacks.onEnd(err);
    };
    req.on('response', (headers) => {
      const status = grpcStatus(headers);
      if (status !== undefined && status !== 0) end(new GrpcError(status, grpcMessage(headers) || `etcd watch failed with gRPC status ${status}`));
    });
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        reader.push(chunk, (m) => !done && callbacks.onMessage(m));
      } catch (err) {
        end(err as Error);
      }
    });
    req.on('trailers', (headers) => {
      const status = grpcStatus(headers);
      end(new GrpcError(status ?? UNAVAILABLE, grpcMessage(headers) || `etcd watch stream ended (gRPC status ${status})`));
    });
    req.on('end', () => done || end(new GrpcError(UNAVAILABLE, 'etcd watch stream ended')));
    req.on('error', (err: Error) => end(new GrpcError(UNAVAILABLE, err.message)));
    req.on('close', () => done || end(new GrpcError(UNAVAILABLE, 'etcd watch stream closed')));
    return {
      write: (m) => {
        if (!done) req.write(frame(m));
      },
      cancel: () => {
        if (done) return;
        done = true;
        req.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  private call(session: http2.ClientHttp2Session, path: string, request: Buffer, deadline: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timeoutMs = Math.max(1, deadline - Date.now());
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request({ ...grpcHeaders(path), 'grpc-timeout': `${timeoutMs}m` });
      } catch (err) {
        // The session closed between connect() and now.
        reject(new GrpcError(UNAVAILABLE, `etcd: ${(err as Error).message}`, true));
        return;
      }
      const reader = new FrameReader();
      let message: Buffer | undefined;
      let settled = false;
      const settle = (err: Error | undefined, value?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve(value as Buffer);
      };
      const finish = (headers: http2.IncomingHttpHeaders) => {
        const status = grpcStatus(headers);
        if (status === undefined) return false;
        if (status !== 0) settle(new GrpcError(status, grpcMessage(headers) || `etcd answered gRPC status ${status}`));
        else if (!message) settle(new GrpcError(13, `etcd sent no reply to ${path}`));
        else settle(undefined, message);
        return true;
      };
      const timer = setTimeout(() => {
        settle(new GrpcError(DEADLINE_EXCEEDED, `etcd did not answer ${path} within ${timeoutMs} ms`));
        this.checkAlive(session);
      }, timeoutMs);
      // A trailers-only response carries grpc-status in its headers.
      req.on('response', (headers) => void finish(headers));
      req.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk, (m) => (message = m));
        } catch (err) {
          settle(err as Error);
        }
      });
      req.on('trailers', (headers) => void finish(headers));
      req.on('error', (err: Error) => settle(new GrpcError(UNAVAILABLE, `etcd: ${err.message}`)));
      // 'close' follows every call; an Error (and its stack) only for a call it ends.
      req.on('close', () => settled || settle(new GrpcError(UNAVAILABLE, `etcd closed the stream of ${path} (code ${req.rstCode})`)));
      req.end(frame(request));
    });
  }

  /**
   * A member that stopped answering without closing its connection (a partition, a hung process) would
   * otherwise keep every call until its deadline: a ping it does not answer ends the session, and the
   * next call goes to another member.
   */
  private checkAlive(session: http2.ClientHttp2Session): void {
    if (session.destroyed || this.session !== session) return;
    const timer = setTimeout(() => session.destroy(new Error('etcd member did not answer a ping')), PING_TIMEOUT_MS);
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (err) session.destroy(err);
    });
    if (!sent) clearTimeout(timer);
  }

  private connect(deadline: number): Promise<http2.ClientHttp2Session> {
    if (this.closed) return Promise.reject(new GrpcError(UNAVAILABLE, 'etcd client is closed'));
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return Promise.resolve(s);
    this.connecting ??= this.dial(deadline).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private dial(deadline: number): Promise<http2.ClientHttp2Session> {
    const endpoint = this.opts.endpoints[this.next % this.opts.endpoints.length];
    return new Promise((resolve, reject) => {
      const { ca, cert, key } = this.opts;
      const session = http2.connect(endpoint, {
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        // Large lists and catch-up batches: let etcd send without waiting for window updates.
        settings: { initialWindowSize: 16 * 2 ** 20 },
      });
      const timer = setTimeout(() => fail(new Error(`connecting to ${endpoint} timed out`)), Math.max(1, deadline - Date.now()));
      const fail = (err: Error) => {
        clearTimeout(timer);
        session.destroy();
        if (this.session === session) this.session = undefined;
        this.next++;
        reject(new GrpcError(UNAVAILABLE, `etcd ${endpoint}: ${err.message}`, true));
      };
      session.once('connect', () => {
        clearTimeout(timer);
        session.setLocalWindowSize(64 * 2 ** 20);
        this.session = session;
        session.removeListener('error', fail);
        const drop = () => {
          if (this.session !== session) return;
          this.session = undefined;
          // The next connection goes to the next member: this one failed or is going away.
          this.next++;
        };
        session.on('error', drop);
        session.on('goaway', drop);
        session.on('close', drop);
        resolve(session);
      });
      session.once('error', fail);
      // Errors after fail() (the socket's own, once destroyed) have nothing left to tell.
      session.on('error', () => {});
    });
  }
}
