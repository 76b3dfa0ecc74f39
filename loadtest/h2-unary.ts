// A lean gRPC unary client over node:http2 for the benchmark driver. grpc-js's client costs about
// as much CPU per call as a server does, so on a 2-core machine the driver, not the server under
// test, would set the pace. This one writes the gRPC framing itself (5-byte prefix + protobuf,
// grpc-status from the trailers), the way a compiled load tool would. Only for measurement:
// tests and the demo use the real grpc-js client.

import * as http2 from 'node:http2';
import { AuthorizeRequest, AuthorizeResponse } from '../gen/tapline/v1/authorization';

const authorize_path = '/tapline.v1.AuthorizationService/Authorize';
const request_headers = {
  ':method': 'POST',
  ':path': authorize_path,
  'content-type': 'application/grpc',
  te: 'trailers',
  'grpc-timeout': '30S',
};

export type UnaryDone = (error: number | undefined, response: AuthorizeResponse | undefined) => void;

/** Mutual TLS of a connection: the CA of the server, the client's certificate and key, the server's name. */
export interface H2Tls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly servername: string;
}

export class H2UnaryClient {
  private readonly session: http2.ClientHttp2Session;

  /** Plaintext without `tls` (the development mode); mutual TLS with it. */
  constructor(address: string, tls?: H2Tls) {
    const settings = { initialWindowSize: 4 * 1024 * 1024 };
    this.session =
      tls === undefined
        ? http2.connect(`http://${address}`, { settings })
        : http2.connect(`https://${address}`, { settings, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername });
    this.session.on('error', () => undefined);
  }

  authorize(request: AuthorizeRequest, done: UnaryDone): void {
    const body = AuthorizeRequest.encode(request).finish();
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const stream = this.session.request(request_headers);
    const chunks: Buffer[] = [];
    let status: number | undefined;
    stream.on('response', (headers: http2.IncomingHttpHeaders) => {
      // A trailers-only response (an error) carries grpc-status in the headers.
      if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => {
      status = Number(trailers['grpc-status']);
    });
    stream.on('close', () => {
      if (status !== 0) {
        done(status ?? 14, undefined);
        return;
      }
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      done(undefined, AuthorizeResponse.decode(data.subarray(5, 5 + data.readUInt32BE(1))));
    });
    stream.end(frame);
  }

  close(): void {
    this.session.close();
  }
}
