/**
 * An OTLP metrics receiver for the tests, standing in for an OpenTelemetry Collector (none can
 * be installed here). It decodes the real wire format of every request (OTLP/HTTP protobuf or
 * JSON, gzip or not, on any path; or OTLP/gRPC over HTTP/2), in cleartext or over TLS with client
 * certificates, records it, and answers as the test's behaviour says: OK, a chosen status, or never.
 *
 * A request it cannot decode is answered 400 (gRPC: INVALID_ARGUMENT) and recorded as a
 * failure; a failure rejects every pending and later waitFor(), and close() rejects while any
 * failure is left untaken, so a test cannot pass on garbage.
 */
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeJsonExport, decodeProtobufExport, describeAttributes, type DecodedExport, type DecodedMetric } from './otlp-decode.js';

export { metricNamed, decodeJsonExport, decodeProtobufExport, OtlpDecodeError } from './otlp-decode.js';
export type { AttributeValue, DecodedDataPoint, DecodedExport, DecodedMetric, DecodedScope } from './otlp-decode.js';

export type OtlpTransport = 'http' | 'grpc';

/** Serve over TLS with this certificate; with `clientCa`, only clients with a certificate it signed get in. */
export interface ReceiverTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa?: Buffer;
}

export interface ReceivedRequest {
  readonly transport: 'http/protobuf' | 'http/json' | 'grpc';
  /** The HTTP request target (e.g. /v1/metrics), or the gRPC method path. */
  readonly path: string;
  /** As received; for gRPC this includes the HTTP/2 pseudo-headers (:path, :method, ...). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body arrived gzip-compressed: Content-Encoding: gzip, or grpc-encoding gzip with the compressed flag set. */
  readonly gzip: boolean;
  readonly decoded: DecodedExport;
  /** The HTTP status sent back, or for gRPC the grpc-status; 'hung' if never answered. */
  readonly answeredWith: number | 'hung';
}

/** A request the receiver could not accept: undecodable, wrong method, path or content type. */
export interface ReceiveFailure {
  readonly transport: OtlpTransport;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly error: Error;
  readonly answeredWith: number;
}

/**
 * What to do with the n-th request (0-based, counted over the receiver's whole life, setBehaviour
 * does not restart it): answer 200 / gRPC OK, answer a status (HTTP status, or gRPC status code),
 * or never answer.
 */
export type Behaviour = (requestIndex: number) => 'ok' | number | 'hang';

export const GRPC_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

const GRPC_OK = 0;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_UNIMPLEMENTED = 12;

interface Waiter {
  readonly predicate: (r: ReceivedRequest) => boolean;
  readonly resolve: (r: ReceivedRequest) => void;
  readonly reject: (e: Error) => void;
}

type Answer = { readonly kind: 'ok' } | { readonly kind: 'status'; readonly status: number } | { readonly kind: 'hang' };

class RequestRejected extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class OtlpReceiver {
  readonly baseUrl: string;
  private readonly received: ReceivedRequest[] = [];
  private readonly failures: ReceiveFailure[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly connections = new Set<Socket | http2.ServerHttp2Session>();
  private behaviour: Behaviour;
  private nextIndex = 0;
  private closed = false;

  private constructor(
    private readonly transport: OtlpTransport,
    private readonly server: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer,
    behaviour: Behaviour,
    scheme: 'http' | 'https',
  ) {
    this.behaviour = behaviour;
    this.baseUrl = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** `port`: a chosen one, e.g. where the service has been failing to connect; default any free one. */
  static async start(options: { transport: OtlpTransport; behaviour?: Behaviour; tls?: ReceiverTls; port?: number }): Promise<OtlpReceiver> {
    const port = options.port ?? 0;
    const { tls } = options;
    const tlsOptions = tls === undefined ? undefined : { cert: tls.cert, key: tls.key, ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }) };
    const behaviour = options.behaviour ?? (() => 'ok');
    const scheme = tls === undefined ? 'http' : 'https';
    if (options.transport === 'http') {
      const server = tlsOptions === undefined ? http.createServer() : https.createServer(tlsOptions);
      const receiver = new OtlpReceiver(options.transport, await listening(server, port), behaviour, scheme);
      server.on('connection', (socket: Socket) => receiver.track(socket));
      server.on('request', (req, res) => receiver.onHttpRequest(req, res));
      return receiver;
    }
    const server = tlsOptions === undefined ? http2.createServer() : http2.createSecureServer(tlsOptions);
    const receiver = new OtlpReceiver(options.transport, await listening(server, port), behaviour, scheme);
    server.on('session', (session) => receiver.track(session));
    server.on('stream', (stream, headers) => receiver.onGrpcStream(stream, headers));
    return receiver;
  }

  /** Every decoded request, in arrival order. */
  get requests(): readonly ReceivedRequest[] {
    return this.received;
  }

  /** Requests that could not be accepted, not yet taken. */
  get errors(): readonly ReceiveFailure[] {
    return this.failures;
  }

  /** Hands the failures to a test that provoked them on purpose, so close() does not reject for them. */
  takeErrors(): ReceiveFailure[] {
    return this.failures.splice(0);
  }

  setBehaviour(behaviour: Behaviour): void {
    this.behaviour = behaviour;
  }

  /**
   * Resolves with the first request matching the predicate that arrives from now on (or already
   * arrived, with includeEarlier). Rejects on timeout, on any failure to decode, or on close().
   *
   * The usual pattern starts waiting, then makes the exporter send, then awaits: the promise is
   * marked handled so a rejection during that send is not an unhandledRejection; the await
   * still sees it, and close() rejects for any failure nobody took.
   */
  waitFor(predicate: (r: ReceivedRequest) => boolean, timeoutMs: number, options: { includeEarlier?: boolean } = {}): Promise<ReceivedRequest> {
    const waiting = this.wait(predicate, timeoutMs, options.includeEarlier === true);
    waiting.catch(() => {});
    return waiting;
  }

  private wait(predicate: (r: ReceivedRequest) => boolean, timeoutMs: number, includeEarlier: boolean): Promise<ReceivedRequest> {
    if (this.failures.length > 0) return Promise.reject(this.failureError());
    if (includeEarlier) {
      const earlier = this.received.find(predicate);
      if (earlier !== undefined) return Promise.resolve(earlier);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching OTLP request within ${timeoutMs} ms; received so far: ${this.summary()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Stops listening and destroys every connection, hung ones included. Rejects if failures are left untaken. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const waiter of this.waiters) waiter.reject(new Error('OTLP receiver closed'));
      this.waiters.clear();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const connection of this.connections) connection.destroy();
      await closed;
    }
    if (this.failures.length > 0) throw this.failureError();
  }

  private track(connection: Socket | http2.ServerHttp2Session): void {
    this.connections.add(connection);
    connection.once('close', () => this.connections.delete(connection));
  }

  private answerFor(index: number): Answer {
    const answer = this.behaviour(index);
    if (answer === 'ok' || answer === 'hang') return { kind: answer };
    const [min, max] = this.transport === 'http' ? [200, 599] : [0, 16];
    const valid = Number.isInteger(answer) && answer >= min && answer <= max;
    if (!valid) throw new Error(`behaviour(${index}) returned ${answer}, not a valid ${this.transport === 'http' ? 'HTTP status' : 'gRPC status code'}`);
    return { kind: 'status', status: answer };
  }

  private record(request: ReceivedRequest): void {
    this.received.push(request);
    for (const waiter of this.waiters) {
      let matches: boolean;
      try {
        matches = waiter.predicate(request);
      } catch (error) {
        this.waiters.delete(waiter);
        waiter.reject(error as Error);
        continue;
      }
      if (matches) {
        this.waiters.delete(waiter);
        waiter.resolve(request);
      }
    }
  }

  private fail(failure: ReceiveFailure): void {
    this.failures.push(failure);
    const error = this.failureError();
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }

  private failureError(): Error {
    const lines = this.failures.map((f) => `${f.transport} ${f.path} (answered ${f.answeredWith}): ${f.error.message}`);
    return new Error(`OTLP receiver could not accept ${this.failures.length} request(s):\n${lines.join('\n')}`, { cause: this.failures[0]?.error });
  }

  private summary(): string {
    if (this.received.length === 0) return 'nothing';
    return this.received
      .map((r, i) => {
        const points = (m: DecodedMetric): string => m.dataPoints.map((p) => `${describeAttributes(p.attributes)}=${p.value}`).join(' ');
        const metrics = r.decoded.scopes.flatMap((s) => s.metrics.map((m) => `${m.name}[${points(m)}]`));
        return `#${i} ${r.transport} ${r.path} answered ${r.answeredWith}: ${metrics.join(', ') || 'no metrics'}`;
      })
      .join('; ');
  }

  // -------------------------------------------------------------------------------------------
  // OTLP/HTTP: https://opentelemetry.io/docs/specs/otlp/#otlphttp

  private onHttpRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const index = this.nextIndex++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.onHttpBody(index, req, res, Buffer.concat(chunks)));
  }

  private onHttpBody(index: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const path = req.url ?? '';
    const headers = { ...req.headers };
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const json = mediaType === 'application/json';
    let gzip = false;
    let decoded: DecodedExport;
    let answer: Answer;
    try {
      if (req.method !== 'POST') throw new RequestRejected(`method ${req.method}, OTLP/HTTP takes POST`, 405);
      if (mediaType !== 'application/x-protobuf' && !json) {
        throw new RequestRejected(`Content-Type ${JSON.stringify(req.headers['content-type'])} is neither application/x-protobuf nor application/json`, 415);
      }
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity' && encoding !== 'gzip') throw new RequestRejected(`Content-Encoding ${encoding} is not gzip`, 415);
      gzip = encoding === 'gzip';
      const payload = gzip ? gunzip(body) : body;
      decoded = json ? decodeJsonExport(utf8(payload)) : decodeProtobufExport(payload);
      answer = this.answerFor(index);
    } catch (error) {
      const status = error instanceof RequestRejected ? error.status : 400;
      this.fail({ transport: 'http', path, headers, error: error as Error, answeredWith: status });
      sendHttp(res, status, json, (error as Error).message);
      return;
    }
    const answeredWith = answer.kind === 'ok' ? 200 : answer.kind === 'status' ? answer.status : 'hung';
    this.record({ transport: json ? 'http/json' : 'http/protobuf', path, headers, gzip, decoded, answeredWith });
    if (answeredWith !== 'hung') sendHttp(res, answeredWith, json, `test receiver answers ${answeredWith} as told`);
  }

  // -------------------------------------------------------------------------------------------
  // OTLP/gRPC: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md

  private onGrpcStream(stream: http2.ServerHttp2Stream, requestHeaders: http2.IncomingHttpHeaders): void {
    const index = this.nextIndex++;
    // A client that gives up (deadline, cancel) resets the stream; that is not the receiver's error.
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => this.onGrpcBody(index, stream, requestHeaders, Buffer.concat(chunks)));
  }

  private onGrpcBody(index: number, stream: http2.ServerHttp2Stream, requestHeaders: http2.IncomingHttpHeaders, body: Buffer): void {
    const path = requestHeaders[':path'] ?? '';
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(requestHeaders)) headers[name] = value;
    let gzip = false;
    let decoded: DecodedExport;
    let answer: Answer;
    try {
      if (path !== GRPC_EXPORT_PATH) throw new RequestRejected(`gRPC method ${path} is not ${GRPC_EXPORT_PATH}`, GRPC_UNIMPLEMENTED);
      const contentType = requestHeaders['content-type'] ?? '';
      if (!/^application\/grpc(\+proto)?$/.test(contentType)) {
        throw new RequestRejected(`content-type ${JSON.stringify(contentType)} is not application/grpc`, GRPC_INVALID_ARGUMENT);
      }
      const message = singleGrpcMessage(body);
      if (message.compressed) {
        const encoding = requestHeaders['grpc-encoding'];
        if (encoding !== 'gzip') {
          throw new RequestRejected(`message has the compressed flag but grpc-encoding is ${JSON.stringify(encoding)}, not gzip`, GRPC_INVALID_ARGUMENT);
        }
        gzip = true;
      }
      decoded = decodeProtobufExport(gzip ? gunzip(message.payload) : message.payload);
      answer = this.answerFor(index);
    } catch (error) {
      const status = error instanceof RequestRejected ? error.status : GRPC_INVALID_ARGUMENT;
      this.fail({ transport: 'grpc', path, headers, error: error as Error, answeredWith: status });
      sendGrpcStatus(stream, status, (error as Error).message);
      return;
    }
    const answeredWith = answer.kind === 'ok' ? GRPC_OK : answer.kind === 'status' ? answer.status : 'hung';
    this.record({ transport: 'grpc', path, headers, gzip, decoded, answeredWith });
    if (answeredWith === GRPC_OK) sendGrpcOk(stream);
    else if (answeredWith !== 'hung') sendGrpcStatus(stream, answeredWith, `test receiver answers ${answeredWith} as told`);
  }
}

function gunzip(body: Buffer): Buffer {
  try {
    return gunzipSync(body);
  } catch (error) {
    throw new Error(`body is not valid gzip: ${(error as Error).message}`);
  }
}

function utf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new Error('JSON body is not valid UTF-8');
  }
}

/**
 * 2xx: an empty ExportMetricsServiceResponse (full success) in the request's encoding. Otherwise
 * a google.rpc.Status with only its message (field 2), as the OTLP spec asks of 4xx and 5xx.
 */
function sendHttp(res: http.ServerResponse, status: number, json: boolean, message: string): void {
  const success = status >= 200 && status <= 299;
  let body: Buffer;
  if (json) body = Buffer.from(success ? '{}' : JSON.stringify({ message }));
  else if (success) body = Buffer.alloc(0);
  else {
    const text = Buffer.from(message);
    const length: number[] = [];
    for (let n = text.length; ; n >>>= 7) {
      if (n < 0x80) {
        length.push(n);
        break;
      }
      length.push((n & 0x7f) | 0x80);
    }
    body = Buffer.concat([Buffer.from([(2 << 3) | 2, ...length]), text]);
  }
  res.writeHead(status, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf', 'Content-Length': body.length });
  res.end(body);
}

function singleGrpcMessage(body: Buffer): { compressed: boolean; payload: Buffer } {
  if (body.length < 5) throw new Error(`gRPC body of ${body.length} bytes is shorter than one message prefix`);
  const flag = body[0]!;
  if (flag !== 0 && flag !== 1) throw new Error(`gRPC compressed flag is ${flag}, not 0 or 1`);
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) {
    throw new Error(`gRPC body is ${body.length} bytes; one message of ${length} bytes takes ${5 + length} (a unary call carries exactly one)`);
  }
  return { compressed: flag === 1, payload: body.subarray(5) };
}

function sendGrpcOk(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC_OK) }));
  // An empty ExportMetricsServiceResponse: uncompressed flag, zero length.
  stream.end(Buffer.alloc(5));
}

/** A Trailers-Only response: the status rides in the only HEADERS frame. */
function sendGrpcStatus(stream: http2.ServerHttp2Stream, status: number, message: string): void {
  if (stream.destroyed) return;
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': encodeURIComponent(message) },
    { endStream: true },
  );
}

async function listening<S extends http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer>(server: S, port: number): Promise<S> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}
