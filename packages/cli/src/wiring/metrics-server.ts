// A bare HTTP endpoint for processes that run components without the serving layer (`tandem speed`,
// `tandem archiver` and `tandem batch schedule` with --metrics-port): /metrics for Prometheus, and
// the same /healthz and /readyz answers as the serving layer (serving's evaluators, over the
// platform's health checks and readiness probes), so an orchestrator can probe every component.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { HealthCheck, ReadinessProbe } from '@tandem/core';
import { evaluateHealth, evaluateReadiness } from '@tandem/serving';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface MetricsServer {
  registry: Registry;
  url: string;
  close(): Promise<void>;
}

/** What /healthz and /readyz ask; read at every request, so components may register later. */
export interface ProbeSources {
  healthChecks: Record<string, HealthCheck>;
  readinessProbes: Record<string, ReadinessProbe>;
  logger: Logger;
  /** @defaultValue 2000 */
  probeTimeoutMs?: number;
}

export async function startMetricsServer(
  host: string,
  port: number,
  prefix: string,
  probes?: ProbeSources,
): Promise<MetricsServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  const send = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(body));
  };
  const server: Server = createServer((request, response) => {
    const fail = (error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    };
    if (request.method === 'GET' && request.url === '/metrics') {
      registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(text);
      }, fail);
      return;
    }
    if (request.method === 'GET' && probes !== undefined && request.url === '/healthz') {
      const answer = evaluateHealth(probes.healthChecks, probes.logger);
      send(response, answer.statusCode, answer.body);
      return;
    }
    if (request.method === 'GET' && probes !== undefined && request.url === '/readyz') {
      evaluateReadiness(probes.readinessProbes, probes.probeTimeoutMs ?? 2000, probes.logger).then(
        (answer) => send(response, answer.statusCode, answer.body),
        fail,
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`only GET /metrics${probes === undefined ? '' : ', /healthz and /readyz'} here\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return {
    registry,
    url: `http://${host}:${bound}/metrics`,
    close: () =>
      new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
