// Messages the speed layer routes aside: invalid input to the dead-letter topic, events beyond the
// allowed lateness to the late topic. Both keep the original bytes as the value and are keyed by
// their source position, `<topic>:<partition>:<offset>`: a batch replayed after a crash re-sends
// identical keys, so downstream consumers (or a compacted topic) see each source message once.
import type { Message } from 'kafkajs';

/** Why a message was rejected, as core's `parseEvent` reports it. */
export interface Rejection {
  code: string;
  message: string;
  field: string | null;
  rule: string;
}

/** Where a message came from. */
export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

/** Header names, exported for consumers of the DLQ and late topics. */
export const deadLetterHeaders = {
  sourceTopic: 'tandem-source-topic',
  sourcePartition: 'tandem-source-partition',
  sourceOffset: 'tandem-source-offset',
  sourceKey: 'tandem-source-key',
  errorCode: 'tandem-error-code',
  errorMessage: 'tandem-error-message',
  errorField: 'tandem-error-field',
  errorRule: 'tandem-error-rule',
  eventTime: 'tandem-event-time',
  watermark: 'tandem-watermark',
  allowedLatenessMs: 'tandem-allowed-lateness-ms',
  routedAt: 'tandem-routed-at',
  pipelineVersion: 'tandem-pipeline-version',
  /** Set by `tandem dlq replay` on a re-injected message: the dead letter it came from. */
  replayedFrom: 'tandem-replayed-from',
  /** Set by `tandem dlq replay`: the original's `sourceKey` (topic:partition:offset). */
  replayedSource: 'tandem-replayed-source',
} as const;

/**
 * The offset of the original that a message re-injected by `tandem dlq replay` replaces, when that
 * original sits in `topic`/`partition`; otherwise -1.
 */
export function replayedOriginalOffset(
  headers: Record<string, unknown> | undefined,
  topic: string,
  partition: number,
): number {
  const raw = headers?.[deadLetterHeaders.replayedSource];
  if (raw === undefined) return -1;
  const text = Array.isArray(raw) ? String(raw[0]) : String(raw);
  const prefix = `${topic}:${partition}:`;
  if (!text.startsWith(prefix)) return -1;
  const offset = Number(text.slice(prefix.length));
  return Number.isSafeInteger(offset) && offset >= 0 ? offset : -1;
}

/** The key that makes a replayed batch's dead letters identifiable duplicates. */
export function sourceKey(source: SourcePosition): string {
  return `${source.topic}:${source.partition}:${source.offset}`;
}

function sourceHeaders(
  source: SourcePosition,
  originalKey: Buffer | null,
  routedAt: number,
  pipelineVersion: string,
): Record<string, string | Buffer> {
  const headers: Record<string, string | Buffer> = {
    [deadLetterHeaders.sourceTopic]: source.topic,
    [deadLetterHeaders.sourcePartition]: String(source.partition),
    [deadLetterHeaders.sourceOffset]: source.offset,
    [deadLetterHeaders.routedAt]: new Date(routedAt).toISOString(),
    [deadLetterHeaders.pipelineVersion]: pipelineVersion,
  };
  if (originalKey !== null) headers[deadLetterHeaders.sourceKey] = originalKey;
  return headers;
}

/** A dead letter: original bytes, source position, the rejection, time and pipeline version. */
export function deadLetterMessage(
  source: SourcePosition,
  original: { key: Buffer | null; value: Buffer | null },
  rejection: Rejection,
  routedAt: number,
  pipelineVersion: string,
): Message {
  const headers = sourceHeaders(source, original.key, routedAt, pipelineVersion);
  headers[deadLetterHeaders.errorCode] = rejection.code;
  headers[deadLetterHeaders.errorMessage] = rejection.message;
  headers[deadLetterHeaders.errorRule] = rejection.rule;
  if (rejection.field !== null) headers[deadLetterHeaders.errorField] = rejection.field;
  return { key: sourceKey(source), value: original.value, headers };
}

/** A late event: original bytes, its event time and the watermark it missed. */
export function lateEventMessage(
  source: SourcePosition,
  original: { key: Buffer | null; value: Buffer | null },
  eventTime: number,
  watermark: number,
  allowedLatenessMs: number,
  routedAt: number,
  pipelineVersion: string,
): Message {
  const headers = sourceHeaders(source, original.key, routedAt, pipelineVersion);
  headers[deadLetterHeaders.eventTime] = String(eventTime);
  headers[deadLetterHeaders.watermark] = String(watermark);
  headers[deadLetterHeaders.allowedLatenessMs] = String(allowedLatenessMs);
  return { key: sourceKey(source), value: original.value, headers };
}
