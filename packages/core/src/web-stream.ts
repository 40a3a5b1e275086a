// The web-analytics stream (HTTP request and click events), declared as data like any user's
// stream. Its schema reproduces the first build's hand-written rules verdict for verdict; the
// parity tests against that hand-written oracle (test/support/web-event-oracle.ts) prove it.
import { defineStream, type Stream, type StreamSpec } from './stream.ts';

/** The web stream as a config file would declare it (topic `events`, raw logs under `logs/`). */
export const webStreamSpec = {
  name: 'events',
  topic: 'events',
  lakePrefix: 'logs',
  schema: {
    type: 'object',
    properties: {
      event_id: { type: 'string', minLength: 1, maxLength: 128 },
      timestamp: { type: 'string', description: 'ISO-8601 with zone, or epoch milliseconds' },
      endpoint: { type: 'string', minLength: 1, maxLength: 512 },
      method: { type: 'string', minLength: 1, maxLength: 32, default: 'GET' },
      status_code: { type: 'integer', minimum: 100, maximum: 599 },
      // A latency over a day is a unit or clock bug (µs or ns sent as ms), not a request; the bound
      // also keeps every sum of latencies finite.
      response_time_ms: { type: 'number', minimum: 0, maximum: 86_400_000 },
      bytes_sent: { type: 'integer', minimum: 0 },
      user_id: { type: 'string', maxLength: 256 },
      session_id: { type: 'string', maxLength: 256 },
      page_id: { type: 'string', maxLength: 256 },
    },
    required: ['event_id', 'timestamp', 'endpoint', 'status_code', 'response_time_ms'],
  },
  time: { field: 'timestamp', encoding: 'auto' },
  idField: 'event_id',
} as const satisfies StreamSpec;

/** The web stream with its default topics; a deployment may move it to other topics. */
export const webStream: Stream = defineStream(webStreamSpec, 'webStream');

/** The web stream on other topics (TANDEM_TOPIC and friends, when no config file is used). */
export function webStreamOn(topics: { topic: string; dlqTopic: string; lateTopic: string }): Stream {
  if (
    topics.topic === webStream.topic &&
    topics.dlqTopic === webStream.dlqTopic &&
    topics.lateTopic === webStream.lateTopic
  ) {
    return webStream;
  }
  return defineStream({ ...webStreamSpec, ...topics }, 'webStream');
}
