// The TS validator of any stream, compiled once from its schema: size, UTF-8, JSON, then each field
// in declaration order, first failure wins. The speed layer and the archiver run it on every Kafka
// message; its DuckDB twin (stream-staging-sql.ts) reaches the same verdict, rule by rule, and the
// parity property tests hold the two together. Keep the two files in step.
//
// The checker is generated JavaScript (one straight-line function per stream, like the hand-written
// validator it replaces): each field is read with a constant key and lands in its own local, and
// the normalized event is one object literal in declaration order, so V8 sees monomorphic loads and
// one hidden class. Closures per field would share their inline caches between fields and go
// megamorphic. The generated source holds no user text: names and values are JSON literals or
// constants passed in.
import {
  type EventParseOptions,
  type EventRejection,
  type EventRule,
  describeStreamRejection,
  integerBounds,
  rejectionCode,
  resolveEventParseOptions,
} from './event-rules.ts';
import type { Stream } from './stream.ts';
import type { StreamField } from './stream-schema.ts';
import { parseEventTimestampString } from './time.ts';
import type { StreamEvent } from './types.ts';
import { TandemError } from './errors.ts';

/** A normalized event, or why the message was rejected. */
export type StreamParseResult = { ok: true; event: StreamEvent } | { ok: false; error: EventRejection };

/** The compiled validator of one stream. Never throws on any input. */
export interface StreamValidator {
  readonly stream: Stream;
  /**
   * Parses one raw message: size (UTF-8 bytes), UTF-8, JSON, then `validate`. A JSON text whose
   * strings hold an escaped unpaired surrogate (`"\ud800"`) is rejected as invalid JSON, as DuckDB's
   * JSON reader rejects it. Duplicate keys are not detected (JS keeps the last, DuckDB the first).
   */
  parse(bytes: Uint8Array | string, options?: Partial<EventParseOptions>): StreamParseResult;
  /** Checks an already parsed value against the schema and normalizes it. */
  validate(value: unknown, options?: Partial<EventParseOptions>): StreamParseResult;
}

type Rejected = { ok: false; error: EventRejection };
type Checker = (value: unknown, opts: EventParseOptions) => StreamParseResult;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const loneSurrogateEscape = /\\u[dD][89a-fA-F]/;

/** True when some string or key in a parsed JSON value holds an unpaired surrogate. */
function hasIllFormedString(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasIllFormedString);
  for (const [key, inner] of Object.entries(value)) {
    if (!key.isWellFormed() || hasIllFormedString(inner)) return true;
  }
  return false;
}

/** Code points of a string, as DuckDB's `length` counts them (a lone surrogate counts one). */
function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * Epoch seconds to epoch ms, rounded down; a number that is the double nearest to k/1000 counts as
 * exactly k ms, so `1.001` (just below 1.001 as a double) gives 1001, not 1000. Same IEEE
 * operations as the SQL twin.
 */
export function epochSecondsToMs(seconds: number): number {
  const k = Math.floor(seconds * 1000);
  return (k + 1) / 1000 === seconds ? k + 1 : k;
}

const epochDigits = /^[0-9]{1,15}$/;

function parseIsoOnly(text: string): number | null {
  // ISO strings are at least 20 characters, epoch-digit strings at most 15.
  return text.length < 20 ? null : parseEventTimestampString(text);
}

function parseEpochMsString(text: string): number | null {
  return epochDigits.test(text) ? Number(text) : null;
}

/** The generated source of one stream's checker, and the constants it reads. */
function generateChecker(stream: Stream): { source: string; constants: unknown[] } {
  const constants: unknown[] = [];
  const constant = (value: unknown): string => {
    constants.push(value);
    return `K[${constants.length - 1}]`;
  };
  const rejections: Array<{ field: string | null; rule: EventRule }> = [];
  const reject = (field: string | null, rule: EventRule): string => {
    rejections.push({ field, rule });
    return `return R(${rejections.length - 1});`;
  };
  const num = (value: number): string => {
    if (!Number.isFinite(value))
      throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `not a finite bound: ${value}`);
    return `(${String(value)})`;
  };
  const lines: string[] = [
    `if (typeof value !== 'object' || value === null || Array.isArray(value)) ${reject(null, 'object')}`,
    'const raw = value;',
    'let v;',
  ];
  const outputs: string[] = [];
  stream.fields.forEach((field, i) => {
    const key = JSON.stringify(field.name);
    const local = `f${i}`;
    // A name Object.prototype has (constructor, __proto__, toString, …) must be an own property.
    const read =
      field.name in Object.prototype
        ? `(Object.hasOwn(raw, ${key}) ? raw[${key}] : undefined)`
        : `raw[${key}]`;
    lines.push(`v = ${read};`, `let ${local};`);
    if (field.name === stream.timeField) {
      lines.push(
        `if (v === undefined || v === null) ${reject(field.name, 'required')}`,
        ...timeChecks(stream, field, local, reject),
      );
    } else {
      const absent = !field.required
        ? `${local} = ${field.default === null ? 'null' : constant(field.default)};`
        : field.nullable
          ? `${local} = null;`
          : reject(field.name, 'required');
      lines.push(
        `if (v === undefined || v === null) { ${absent} } else {`,
        ...valueChecks(field, reject, constant, num),
        `${local} = v; }`,
      );
    }
    outputs.push(`${field.name === '__proto__' ? `[${key}]` : key}: ${local}`);
  });
  lines.push(`return { ok: true, event: { ${outputs.join(', ')} } };`);
  const rejectionSource = rejections.map(({ field, rule }) => ({
    code: rejectionCode(rule),
    field,
    rule,
    message: describeStreamRejection(stream, field, rule),
  }));
  constants.push(rejectionSource);
  const source =
    `'use strict';\n` +
    `const REJECTIONS = K[${constants.length - 1}];\n` +
    // A fresh object per rejection: callers own their results.
    'function R(i) { const r = REJECTIONS[i]; return { ok: false, error: { code: r.code, field: r.field, rule: r.rule, message: r.message } }; }\n' +
    `return function checkEvent(value, opts) {\n  ${lines.join('\n  ')}\n};`;
  return { source, constants };
}

type Emit = (field: string | null, rule: EventRule) => string;

/** Checks of a present, non-null value `v` of a plain (not event-time) field. */
function valueChecks(
  field: StreamField,
  reject: Emit,
  constant: (value: unknown) => string,
  num: (value: number) => string,
): string[] {
  const name = field.name;
  const out: string[] = [];
  const enumCheck = () => {
    if (field.enum !== null)
      out.push(`if (!${constant(new Set(field.enum))}.has(v)) ${reject(name, 'enum')}`);
  };
  switch (field.type) {
    case 'string': {
      out.push(`if (typeof v !== 'string') ${reject(name, 'type')}`);
      const min = field.minLength ?? 0;
      // length >= 2 * min UTF-16 units means at least min code points; below that, count them.
      if (min === 1) {
        out.push(`if (v.length === 0) ${reject(name, 'minLength')}`);
      } else if (min > 1) {
        out.push(
          `if (v.length < ${min} || (v.length < ${2 * min} && CP(v) < ${min})) ${reject(name, 'minLength')}`,
        );
      }
      if (field.maxLength !== null) {
        out.push(
          `if (v.length > ${field.maxLength} && CP(v) > ${field.maxLength}) ${reject(name, 'maxLength')}`,
        );
      }
      enumCheck();
      break;
    }
    case 'integer': {
      const { min, max } = integerBounds(field);
      out.push(
        `if (typeof v !== 'number') ${reject(name, 'type')}`,
        `if (!Number.isInteger(v)) ${reject(name, 'integer')}`,
        `if (v < ${num(min)}) ${reject(name, 'minimum')}`,
        `if (v > ${num(max)}) ${reject(name, 'maximum')}`,
      );
      enumCheck();
      // -0 becomes 0: a BIGINT has no negative zero.
      out.push('if (v === 0) v = 0;');
      break;
    }
    case 'number': {
      out.push(
        `if (typeof v !== 'number') ${reject(name, 'type')}`,
        `if (!Number.isFinite(v)) ${reject(name, 'finite')}`,
      );
      if (field.minimum !== null) out.push(`if (v < ${num(field.minimum)}) ${reject(name, 'minimum')}`);
      if (field.maximum !== null) out.push(`if (v > ${num(field.maximum)}) ${reject(name, 'maximum')}`);
      enumCheck();
      // -0 becomes 0: DuckDB's JSON functions read `-0` as 0, and both are the same value.
      out.push('if (v === 0) v = 0;');
      break;
    }
    case 'boolean':
      out.push(`if (typeof v !== 'boolean') ${reject(name, 'type')}`);
      enumCheck();
      break;
  }
  return out;
}

/** Checks of a present, non-null event-time value `v`, leaving epoch ms in `local`. */
function timeChecks(stream: Stream, field: StreamField, local: string, reject: Emit): string[] {
  const name = field.name;
  const out: string[] = [];
  switch (stream.timeEncoding) {
    case 'auto':
      out.push(
        `if (typeof v === 'string') { ${local} = TS(v); if (${local} === null) ${reject(name, 'format')} }`,
        `else if (typeof v === 'number') { if (!Number.isInteger(v)) ${reject(name, 'integer')} ${local} = v; }`,
        `else ${reject(name, 'type')}`,
      );
      break;
    case 'iso8601':
      out.push(
        `if (typeof v !== 'string') ${reject(name, 'type')}`,
        `${local} = ISO(v); if (${local} === null) ${reject(name, 'format')}`,
      );
      break;
    case 'epoch_ms':
      out.push(
        `if (typeof v === 'string') { ${local} = MS(v); if (${local} === null) ${reject(name, 'format')} }`,
        `else if (typeof v === 'number') { if (!Number.isInteger(v)) ${reject(name, 'integer')} ${local} = v; }`,
        `else ${reject(name, 'type')}`,
      );
      break;
    case 'epoch_s':
      out.push(
        `if (typeof v !== 'number') ${reject(name, 'type')}`,
        field.type === 'integer'
          ? `if (!Number.isInteger(v)) ${reject(name, 'integer')}`
          : `if (!Number.isFinite(v)) ${reject(name, 'finite')}`,
        `${local} = SEC(v);`,
      );
      break;
    case 'epoch_us':
      out.push(
        `if (typeof v !== 'number') ${reject(name, 'type')}`,
        `if (!Number.isInteger(v)) ${reject(name, 'integer')}`,
        `${local} = Math.floor(v / 1000);`,
      );
      break;
  }
  out.push(
    `if (${local} < 0) ${reject(name, 'minimum')}`,
    `if (${local} > opts.now() + opts.futureToleranceMs) ${reject(name, 'future')}`,
    // -0 and 0 are the same instant; normalize so both engines print the same bucket.
    `if (${local} === 0) ${local} = 0;`,
  );
  return out;
}

function compileChecker(stream: Stream): Checker {
  const { source, constants } = generateChecker(stream);
  const factory = new Function('K', 'CP', 'TS', 'ISO', 'MS', 'SEC', source) as (
    k: unknown[],
    cp: typeof codePointLength,
    ts: typeof parseEventTimestampString,
    iso: typeof parseIsoOnly,
    ms: typeof parseEpochMsString,
    sec: typeof epochSecondsToMs,
  ) => Checker;
  return factory(
    constants,
    codePointLength,
    parseEventTimestampString,
    parseIsoOnly,
    parseEpochMsString,
    epochSecondsToMs,
  );
}

function rejectMessage(rule: EventRule, stream: Stream): Rejected {
  return {
    ok: false,
    error: {
      code: rejectionCode(rule),
      field: null,
      rule,
      message: describeStreamRejection(stream, null, rule),
    },
  };
}

function buildValidator(stream: Stream): StreamValidator {
  const check = compileChecker(stream);
  return {
    stream,
    parse(bytes, options) {
      const opts = resolveEventParseOptions(options);
      let text: string;
      if (typeof bytes === 'string') {
        text = bytes;
        if (text.length * 3 > opts.maxBytes && Buffer.byteLength(text, 'utf8') > opts.maxBytes) {
          return rejectMessage('size', stream);
        }
        if (!text.isWellFormed()) return rejectMessage('utf8', stream);
      } else {
        if (bytes.byteLength > opts.maxBytes) return rejectMessage('size', stream);
        try {
          text = utf8Decoder.decode(bytes);
        } catch {
          return rejectMessage('utf8', stream);
        }
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return rejectMessage('json', stream);
      }
      if (loneSurrogateEscape.test(text) && hasIllFormedString(value)) return rejectMessage('json', stream);
      return check(value, opts);
    },
    validate(value, options) {
      return check(value, resolveEventParseOptions(options));
    },
  };
}

const validators = new WeakMap<Stream, StreamValidator>();

/** The validator of a stream, compiled on first use and cached per Stream object. */
export function compileStreamValidator(stream: Stream): StreamValidator {
  let validator = validators.get(stream);
  if (validator === undefined) {
    validator = buildValidator(stream);
    validators.set(stream, validator);
  }
  return validator;
}
