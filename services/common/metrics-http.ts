// The small HTTP endpoint every long-running process exposes: Prometheus /metrics, /healthz
// (alive) and, where the process has a notion of readiness, /readyz.

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** How long a scrape or probe may take before its socket is closed. */
export const metrics_request_timeout_ms = 10_000;

export interface MetricsEndpoint {
  readonly registry: Registry;
  readonly host: string;
  readonly port: number;
  /** Answers /readyz (200 when true, 503 otherwise); without it /readyz is 404. */
  readonly ready?: () => boolean;
}

export function serveMetrics(endpoint: MetricsEndpoint): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      endpoint.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': endpoint.registry.contentType });
          response.end(text);
        },
        () => {
          response.writeHead(500);
          response.end();
        },
      );
      return;
    }
    if (request.url === '/healthz') {
      response.writeHead(200);
      response.end('ok');
      return;
    }
    if (request.url === '/readyz' && endpoint.ready) {
      const ready = endpoint.ready();
      response.writeHead(ready ? 200 : 503);
      response.end(ready ? 'ready' : 'not ready');
      return;
    }
    response.writeHead(404);
    response.end();
  });
  server.requestTimeout = metrics_request_timeout_ms;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => resolve(server));
  });
}
