// A second, non-web stream for the archiver tests: IoT readings (string id, epoch-ms integer time,
// strings, a number, a boolean with a default, a nullable number), and a generator of readings
// whose normalized form — the line the archiver must write — is computed here by hand, field by
// field, not by core's validator.
import { randomUUID } from 'node:crypto';
import { defineStream, HOUR_MS, MINUTE_MS, type Stream, type StreamSpec } from '@tandem/core';
import { mulberry32 } from '@tandem/test-support/random.ts';

/** The IoT stream's declaration; `topic` is the test's own. */
export function iotStreamSpec(topic: string): StreamSpec {
  return {
    name: 'iot',
    topic,
    schema: {
      type: 'object',
      properties: {
        reading_id: { type: 'string', minLength: 1, maxLength: 64 },
        ts: { type: 'integer', description: 'epoch milliseconds' },
        site: { type: 'string', minLength: 1, maxLength: 64 },
        device: { type: 'string', minLength: 1, maxLength: 64 },
        temperature_c: { type: 'number', minimum: -90, maximum: 150 },
        battery_low: { type: 'boolean', default: false },
        humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
      },
      required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
    },
    time: { field: 'ts', encoding: 'epoch_ms' },
    idField: 'reading_id',
  };
}

export function iotStream(topic: string): Stream {
  return defineStream(iotStreamSpec(topic));
}

/** A normalized IoT reading, fields in declaration order. */
export interface IotReading {
  reading_id: string;
  ts: number;
  site: string;
  device: string;
  temperature_c: number;
  battery_low: boolean;
  humidity: number | null;
}

/** The normalized reading as the archiver must print it: its fields in declaration order. */
export function iotLine(reading: IotReading): string {
  return JSON.stringify({
    reading_id: reading.reading_id,
    ts: reading.ts,
    site: reading.site,
    device: reading.device,
    temperature_c: reading.temperature_c,
    battery_low: reading.battery_low,
    humidity: reading.humidity,
  });
}

export interface IotMessage {
  partition: number;
  value: string;
  /** The normalized reading, or null for poison. */
  reading: IotReading | null;
}

export interface IotStreamData {
  messages: IotMessage[];
  /** reading_id → normalized reading, for every valid message. */
  truth: Map<string, IotReading>;
  /** Poison messages (every one must be rejected). */
  poison: number;
  firstHour: number;
  hours: number;
}

/** Messages every IoT validator must reject, each for one reason. */
export function iotPoison(now: number): string[] {
  const base = { reading_id: 'p', ts: now - HOUR_MS, site: 's', device: 'd', temperature_c: 20 };
  return [
    '{"reading_id":"p","ts":',
    '[1,2,3]',
    JSON.stringify({ ...base, reading_id: undefined }), // required id missing
    JSON.stringify({ ...base, reading_id: '' }), // minLength
    JSON.stringify({ ...base, temperature_c: '20' }), // type
    JSON.stringify({ ...base, temperature_c: 151 }), // maximum
    JSON.stringify({ ...base, ts: 1.5 }), // integer
    JSON.stringify({ ...base, ts: now + 24 * HOUR_MS }), // future
    JSON.stringify({ ...base, ts: '2024-01-01T00:00:00Z' }), // epoch_ms takes no ISO string
    JSON.stringify({ ...base, battery_low: 'yes' }), // type
    JSON.stringify({ ...base, humidity: 'wet' }), // type
    JSON.stringify({ ...base, humidity: -1 }), // minimum
    JSON.stringify({ ...base, site: null }), // required
  ];
}

/**
 * `valid` readings over `hours` past hours in production order, event time jittered by ±`jitterMs`,
 * round-robin over partitions, with one poison message every `poisonEvery` readings. The readings
 * are written in every shape the validator accepts: canonical lines (the fast path), reordered
 * keys, optional fields left out or null (defaults filled in), the time as a string of digits,
 * whitespace, non-ASCII text, a negative zero and exponents.
 */
export function generateIotStream(options: {
  valid: number;
  partitions: number;
  hours?: number;
  jitterMs?: number;
  poisonEvery?: number;
  seed?: number;
}): IotStreamData {
  const hours = options.hours ?? 3;
  const jitter = options.jitterMs ?? 5 * MINUTE_MS;
  const random = mulberry32(options.seed ?? 7);
  const now = Date.now();
  const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - 2 * HOUR_MS - hours * HOUR_MS;
  const span = hours * HOUR_MS;
  const run = randomUUID().slice(0, 8);
  const poisonTexts = iotPoison(now);
  const messages: IotMessage[] = [];
  const truth = new Map<string, IotReading>();
  let poison = 0;
  for (let index = 0; index < options.valid; index++) {
    const planned = firstHour + Math.floor((index * span) / options.valid);
    const ts = Math.min(
      firstHour + span - 1,
      Math.max(firstHour, planned + Math.round((random() * 2 - 1) * jitter)),
    );
    const reading: IotReading = {
      reading_id: `${run}-${index}`,
      ts,
      site: index % 11 === 5 ? `usine-${index % 3}-é` : `site-${index % 7}`,
      device: `dev-${index % 101}`,
      temperature_c: Math.round((random() * 80 - 20) * 100) / 100,
      battery_low: index % 13 === 0,
      humidity: index % 5 === 0 ? null : Math.round(random() * 10_000) / 100,
    };
    let value: string;
    switch (index % 8) {
      case 0:
      case 1:
      case 2:
        value = iotLine(reading); // canonical
        break;
      case 3: {
        // keys reversed
        const { humidity, battery_low, temperature_c, device, site, ts: time, reading_id } = reading;
        value = JSON.stringify({ humidity, battery_low, temperature_c, device, site, ts: time, reading_id });
        break;
      }
      case 4: {
        // optional fields absent: battery_low defaults to false, humidity to null
        reading.battery_low = false;
        reading.humidity = null;
        const { battery_low: _b, humidity: _h, ...required } = reading;
        value = JSON.stringify(required);
        break;
      }
      case 5:
        // the time as a string of digits, battery_low null (its default)
        reading.battery_low = false;
        value = JSON.stringify({ ...reading, ts: String(reading.ts), battery_low: null });
        break;
      case 6:
        value = JSON.stringify(reading, null, 1); // whitespace
        break;
      default:
        // a negative zero, an exponent and a trailing zero: normalized to 0, 1e-7-style and 12.5
        reading.temperature_c = index % 16 === 7 ? 0 : 1e-7;
        value = iotLine(reading)
          .replace(
            `"temperature_c":${reading.temperature_c}`,
            `"temperature_c":${index % 16 === 7 ? '-0' : '1E-7'}`,
          )
          .replace(/"humidity":(\d+)(,|})/, '"humidity":$1.0$2');
        break;
    }
    messages.push({ partition: messages.length % options.partitions, value, reading });
    truth.set(reading.reading_id, reading);
    if (options.poisonEvery !== undefined && (index + 1) % options.poisonEvery === 0) {
      const text = poisonTexts[poison % poisonTexts.length]!;
      messages.push({ partition: messages.length % options.partitions, value: text, reading: null });
      poison++;
    }
  }
  return { messages, truth, poison, firstHour, hours };
}
