// JSON Schemas shared by the routes: parameters (validated by ajv, published in the OpenAPI spec)
// and response bodies. Every object schema states its `additionalProperties` rule.
import { parseTimeExpression, RELATIVE_TIME_PATTERN, timeExpressionForms } from '@tandem/core';
import { granularities } from '../query/time-grid.ts';

/** ajv format name of time parameters: ISO-8601, epoch ms, `now` or relative to now. */
export const timeInputFormat = 'tandem-time';

/** What a 400 says a time parameter must be (the same forms the cli accepts). */
export const timeInputRule = `must be ${timeExpressionForms}`;

/** Latest instant accepted: 9999-12-31T23:59:59.999Z. */
const maxTime = 253_402_300_799_999;

/**
 * Parses a time parameter with core's `parseTimeExpression` (ISO-8601, a missing zone meaning
 * UTC, epoch ms, `now`, or relative to `now` like `-2h`), as the cli reads its flags; null when
 * it is none of these, or lies before 1970 or after 9999.
 */
export function parseTimeParameter(text: string, now: number = Date.now()): number | null {
  const value = parseTimeExpression(text, now);
  return value !== null && Number.isFinite(value) && value >= 0 && value <= maxTime ? value : null;
}

/**
 * The documented shapes of a time parameter, so fuzzers and clients generate parseable values; the
 * `tandem-time` format then checks the calendar (no February 30) with core's parser.
 */
export const timeInputPattern =
  '^(?:now|' +
  RELATIVE_TIME_PATTERN.slice(1, -1) +
  '|[0-9]{1,15}|[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])' +
  // An hour alone (`T14`) takes no zone; a zone follows minutes or seconds.
  '(?:T(?:[01][0-9]|2[0-3])(?::[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?(?:Z|[+-](?:0[0-9]|1[0-4]):?[0-5][0-9])?)?)?)$';

export const timeParameter = (description: string) => ({
  type: 'string',
  format: timeInputFormat,
  pattern: timeInputPattern,
  maxLength: 40,
  description:
    `${description}; ISO-8601 (a missing zone means UTC), epoch milliseconds, \`now\`, or relative ` +
    'to now: a sign, a number and a unit of s, m, h or d (`-2h`, `-30m`, `-1d`, `-1.5h`), as the cli accepts',
});

export const errorBody = {
  $id: 'tandemError',
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        parameter: { type: 'string' },
        requestId: { type: 'string' },
      },
    },
  },
} as const;

export const errorRef = { $ref: 'tandemError#' } as const;

/** Error responses every keyed route may answer with. */
export const keyedErrors = {
  400: { description: 'Invalid or too large a query', ...errorRef },
  401: { description: 'No or an unknown API key', ...errorRef },
  403: { description: 'The key lacks the scope', ...errorRef },
  429: { description: 'Rate limit exceeded (see Retry-After)', ...errorRef },
  503: { description: 'A layer store is unreachable', ...errorRef },
} as const;

const isoOrNull = { type: 'string', format: 'date-time', nullable: true } as const;

const dimensionValue = { nullable: true, oneOf: [{ type: 'string' }, { type: 'number' }] } as const;

/** A finished value: a number, null, a top-K list, or a record of numbers. */
export const finishedValue = {
  nullable: true,
  oneOf: [
    { type: 'number' },
    {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'count'],
        properties: { key: { type: 'string' }, count: { type: 'number' } },
      },
    },
    { type: 'object', additionalProperties: { type: 'number', nullable: true } },
  ],
} as const;

export const freshnessProperties = {
  sealedThrough: { ...isoOrNull, description: 'Every hour before it is sealed by the batch layer' },
  speedWatermark: { ...isoOrNull, description: 'Event time through which the speed layer is complete' },
  freshnessMs: {
    type: 'number',
    nullable: true,
    description:
      'How far the speed watermark (else sealed-through) trailed the clock when last read (about once a second)',
  },
  complete: {
    type: 'boolean',
    description: 'Every hour of the range is sealed: the answer only changes on a recompute',
  },
  coverage: {
    type: 'array',
    description: 'Every base hour of the range and the layer that served it',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['bucket', 'source', 'runId'],
      properties: {
        bucket: { type: 'string', format: 'date-time' },
        source: { type: 'string', enum: ['batch', 'speed', 'none'] },
        runId: { type: 'string', nullable: true },
      },
    },
  },
} as const;

/** A view's derived version (core's viewFingerprint), as /v1/views and /v1/streams give it. */
export const viewFingerprintSchema = {
  type: 'string',
  pattern: '^[0-9a-f]{12}$',
  description:
    "The view's derived version: a hash of its normalized definition and the rules of the stream fields it reads",
} as const;

export const seriesBody = {
  type: 'object',
  additionalProperties: false,
  required: [
    'view',
    'version',
    'fingerprint',
    'granularity',
    'from',
    'to',
    'sealedThrough',
    'speedWatermark',
    'freshnessMs',
    'complete',
    'coverage',
    'series',
  ],
  properties: {
    view: { type: 'string' },
    version: {
      type: 'string',
      pattern: '^v[1-9][0-9]*$',
      description: 'The version of the view that served the whole answer (its storage number)',
    },
    fingerprint: viewFingerprintSchema,
    granularity: { type: 'string', enum: [...granularities] },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    ...freshnessProperties,
    series: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['dims', 'points'],
        properties: {
          dims: { type: 'object', additionalProperties: dimensionValue },
          points: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['bucket', 'source', 'values'],
              properties: {
                bucket: { type: 'string', format: 'date-time' },
                source: { type: 'string', enum: ['batch', 'speed', 'mixed', 'none'] },
                values: { type: 'object', additionalProperties: finishedValue },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const topBody = {
  type: 'object',
  additionalProperties: false,
  required: [
    'view',
    'version',
    'fingerprint',
    'from',
    'to',
    'dimension',
    'by',
    'k',
    'sealedThrough',
    'speedWatermark',
    'freshnessMs',
    'complete',
    'coverage',
    'items',
  ],
  properties: {
    view: { type: 'string' },
    version: {
      type: 'string',
      pattern: '^v[1-9][0-9]*$',
      description: 'The version of the view that served the whole answer (its storage number)',
    },
    fingerprint: viewFingerprintSchema,
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    dimension: { type: 'string' },
    by: { type: 'string' },
    k: { type: 'integer' },
    ...freshnessProperties,
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rank', 'value', 'score', 'source', 'values'],
        properties: {
          rank: { type: 'integer' },
          value: dimensionValue,
          score: { type: 'number', nullable: true },
          source: { type: 'string', enum: ['batch', 'speed', 'mixed', 'none'] },
          values: { type: 'object', additionalProperties: finishedValue },
        },
      },
    },
  },
} as const;

export function iso(ts: number | null): string | null {
  return ts === null ? null : new Date(ts).toISOString();
}
