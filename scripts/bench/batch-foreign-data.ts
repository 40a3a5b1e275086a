// Generates the "foreign logs" day of the batch benchmark (issue 14): 24 hourly partitions of gzipped
// NDJSON as another producer writes them — keys in a different order on every line, four encoder
// styles (compact, spaced, Go's \u003c escapes, PHP's \/ and \u escapes), ISO-8601 timestamps in
// several shapes mixed with epoch-ms numbers, unknown extra fields, 1% producer-retry duplicates and
// 0.5% malformed lines. Deterministic (seeded); a marker file records the shape so it is made once.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HOUR_MS } from '../../packages/core/src/time.ts';

/** The foreign day: 2024-05-02 UTC (the other batch bench uses 2024-05-01). */
export const FOREIGN_DAY = Date.UTC(2024, 4, 2);
const HOURS = 24;
const FILES_PER_HOUR = 4;
const SEED = 0x7a4de3;
const BAD_RATIO = 0.005;
const DUPLICATE_RATIO = 0.01;

export interface ForeignData {
  lake: string;
  day: number;
  hours: number;
  files: number;
  /** Every line in every file (what the batch layer must count in). */
  lines: number;
  /** Lines that are not valid events (bad JSON, wrong types, missing fields, out of range). */
  bad: number;
  /** Repeats of an earlier line's event_id (byte-identical retries). */
  duplicates: number;
  /** Distinct valid events: what a correct job aggregates. */
  events: number;
  bytes: number;
}

/** mulberry32: small, fast and good enough to make the same data on every machine. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const RESOURCES = [
  'users',
  'orders',
  'carts',
  'products',
  'search',
  'payments',
  'sessions',
  'reviews',
  'inventory',
  'shipments',
];
// A few endpoints outside ASCII: they come out raw (UTF-8), or as \u escapes from the PHP-style encoder.
const UNICODE_ENDPOINTS = [
  '/api/v1/catégories/café',
  '/api/v1/städte/münchen',
  '/api/v1/produits/crème-brûlée',
  '/api/v1/検索',
  '/api/v1/rockets/🚀',
];
const ENDPOINTS: string[] = [];
for (const resource of RESOURCES) {
  ENDPOINTS.push(`/api/v1/${resource}`, `/api/v1/${resource}/{id}`, `/api/v2/${resource}`);
  for (let i = 0; i < 12; i++) ENDPOINTS.push(`/api/v1/${resource}/{id}/sub-${i}`);
}
ENDPOINTS.splice(7, 0, ...UNICODE_ENDPOINTS);
const CITIES = ['München', 'Zürich', 'São Paulo', 'Kraków', 'Paris', 'Berlin', 'Tokyo', 'Austin'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) <bot> & friends',
  'curl/8.5.0',
  'okhttp/4.12.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15',
];

type Style = 'compact' | 'spaced' | 'go' | 'php';

function encodeString(value: string, style: Style): string {
  const json = JSON.stringify(value);
  if (style === 'go') return json.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  if (style === 'php') {
    return json
      .replace(/\//g, '\\/')
      .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  return json;
}

function encodeValue(value: unknown, style: Style): string {
  if (typeof value === 'string') return encodeString(value, style);
  if (value !== null && typeof value === 'object') return encodeObject(Object.entries(value), style);
  return String(value); // numbers, null, and the raw tokens of malformed lines
}

function encodeObject(entries: Array<[string, unknown]>, style: Style): string {
  const colon = style === 'spaced' ? ': ' : ':';
  const comma = style === 'spaced' ? ', ' : ',';
  return `{${entries.map(([key, value]) => `${encodeString(key, style)}${colon}${encodeValue(value, style)}`).join(comma)}}`;
}

/** ISO-8601 of `ms` as seen at a UTC offset of `offsetMinutes`, with 0, 3 or 6 fraction digits. */
function isoAt(ms: number, offsetMinutes: number, fraction: 0 | 3 | 6, micros: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const seconds = local.slice(0, 19);
  const frac = fraction === 0 ? '' : fraction === 3 ? local.slice(19, 23) : `${local.slice(19, 23)}${micros}`;
  if (offsetMinutes === 0) return `${seconds}${frac}Z`;
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${seconds}${frac}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function hex(random: () => number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function pickStyle(random: () => number): Style {
  const u = random();
  return u < 0.5 ? 'compact' : u < 0.75 ? 'spaced' : u < 0.9 ? 'go' : 'php';
}

/** One valid event's fields (some optional ones left out or null), in a random key order. */
function validEvent(random: () => number, hourMs: number, eventId: string): Array<[string, unknown]> {
  const ts = hourMs + Math.floor(random() * HOUR_MS);
  const t = random();
  const timestamp =
    t < 0.3
      ? ts // epoch ms as a JSON number
      : t < 0.65
        ? isoAt(ts, 0, 3, 0)
        : t < 0.75
          ? isoAt(ts, 0, 0, 0)
          : t < 0.85
            ? isoAt(ts, 0, 6, 100 + Math.floor(random() * 900))
            : isoAt(ts, [120, -300, 330, 60][Math.floor(random() * 4)]!, 3, 0);
  const u = random();
  const endpoint = ENDPOINTS[Math.floor(ENDPOINTS.length * u * u)]!;
  const s = random();
  const status =
    s < 0.82 ? 200 : s < 0.86 ? 201 : s < 0.88 ? 204 : s < 0.9 ? 304 : s < 0.95 ? 404 : s < 0.97 ? 400 : 503;
  const latency = Math.round((1 + Math.exp(random() * 6.5)) * 1000) / 1000;
  const fields: Array<[string, unknown]> = [
    ['event_id', eventId],
    ['timestamp', timestamp],
    ['endpoint', endpoint],
    ['status_code', status],
    ['response_time_ms', random() < 0.1 ? Math.round(latency) : latency],
  ];
  const m = random();
  if (m < 0.9) fields.push(['method', m < 0.6 ? 'GET' : m < 0.8 ? 'POST' : m < 0.85 ? 'PUT' : 'DELETE']);
  const b = random();
  if (b < 0.85) fields.push(['bytes_sent', Math.floor(random() * 60_000)]);
  else if (b < 0.9) fields.push(['bytes_sent', null]);
  const user = Math.floor(200_000 * random() ** 2);
  const v = random();
  if (v < 0.9) {
    fields.push(['user_id', `u-${user}`]);
    fields.push(['session_id', `s-${user}-${Math.floor(ts / 1_800_000)}`]);
  } else if (v < 0.95) fields.push(['user_id', null]);
  if (random() < 0.7) fields.push(['page_id', `/page/${Math.floor(5000 * random() ** 3)}`]);
  // What another producer adds: fields Tandem does not know, nested ones too.
  if (random() < 0.6) fields.push(['host', `web-${Math.floor(random() * 12)}.eu-west-1`]);
  if (random() < 0.4) fields.push(['ua', AGENTS[Math.floor(random() * AGENTS.length)]!]);
  if (random() < 0.3)
    fields.push(['geo', { country: 'DE', city: CITIES[Math.floor(random() * CITIES.length)]! }]);
  if (random() < 0.3) fields.push(['trace_id', hex(random, 32)]);
  return shuffle(fields, random);
}

const BAD_KINDS = 16;

/** One malformed line of kind `kind`: each fails Tandem's validator (JSON, type, required or range). */
function badLine(random: () => number, hourMs: number, id: string, kind: number, style: Style): string {
  const fields = validEvent(random, hourMs, id);
  const set = (key: string, value: unknown) => {
    const at = fields.findIndex(([k]) => k === key);
    if (at >= 0) fields[at] = [key, value];
    else fields.push([key, value]);
  };
  const drop = (key: string) => {
    const at = fields.findIndex(([k]) => k === key);
    if (at >= 0) fields.splice(at, 1);
  };
  switch (kind) {
    case 0: {
      const line = encodeObject(fields, style);
      return line.slice(0, Math.floor(line.length * 0.6)); // cut off mid-line
    }
    case 1:
      return `${encodeObject(fields, style).slice(0, -1)},}`; // trailing comma
    case 2:
      set('response_time_ms', 'NaN'); // a bare NaN token (encodeValue writes it raw)
      return encodeObject(fields, style).replace('"NaN"', 'NaN');
    case 3:
      set('status_code', '200');
      break;
    case 4:
      set('response_time_ms', '12.5');
      break;
    case 5:
      set('event_id', 1_000_000 + Math.floor(random() * 1_000_000));
      break;
    case 6:
      drop('endpoint');
      break;
    case 7:
      drop('event_id');
      break;
    case 8:
      drop('timestamp');
      break;
    case 9:
      set('status_code', 700);
      break;
    case 10:
      set('response_time_ms', -3.25);
      break;
    case 11:
      set('bytes_sent', -1);
      break;
    case 12:
      set('timestamp', new Date(hourMs + 1000).toISOString().replace('T', ' ').slice(0, 19)); // no T, no zone
      break;
    case 13:
      set('timestamp', Date.UTC(2999, 0, 1)); // far in the future
      break;
    case 14:
      set('event_id', '');
      break;
    default:
      set('status_code', 200.5);
      break;
  }
  return encodeObject(fields, style);
}

/** Splits `total` into `parts` near-equal integers, deterministically. */
function share(total: number, parts: number, index: number): number {
  return Math.floor(((index + 1) * total) / parts) - Math.floor((index * total) / parts);
}

/** Generates the day under `root/lake` unless the marker says it is already there with this shape. */
export function ensureForeignData(root: string, lines: number): ForeignData {
  const lake = join(root, 'lake');
  const marker = join(root, 'generated.json');
  const shape = {
    version: 1,
    lines,
    hours: HOURS,
    filesPerHour: FILES_PER_HOUR,
    day: FOREIGN_DAY,
    seed: SEED,
  };
  if (existsSync(marker)) {
    const found = JSON.parse(readFileSync(marker, 'utf8')) as { shape: typeof shape; data: ForeignData };
    if (JSON.stringify(found.shape) === JSON.stringify(shape)) return { ...found.data, lake };
  }
  rmSync(marker, { force: true });
  rmSync(lake, { recursive: true, force: true });
  const badTotal = Math.round(lines * BAD_RATIO);
  const duplicateTotal = Math.round(lines * DUPLICATE_RATIO);
  let bytes = 0;
  let badSoFar = 0; // cycles the kinds of malformed line over the whole day
  const started = Date.now();
  for (let h = 0; h < HOURS; h++) {
    const random = prng(SEED + h * 7919);
    const hourMs = FOREIGN_DAY + h * HOUR_MS;
    const bad = share(badTotal, HOURS, h);
    const duplicates = share(duplicateTotal, HOURS, h);
    const valid = share(lines, HOURS, h) - bad - duplicates;
    // Lines get sort positions: valid events at even slots; each retry a little after its original
    // (sometimes in the next file); bad lines anywhere.
    const placed: Array<{ at: number; line: string }> = [];
    const validLines: string[] = [];
    for (let i = 0; i < valid; i++) {
      const line = encodeObject(
        validEvent(
          random,
          hourMs,
          `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${hex(random, 12)}`,
        ),
        pickStyle(random),
      );
      validLines.push(line);
      placed.push({ at: 2 * i, line });
    }
    for (let j = 0; j < duplicates; j++) {
      const source = Math.floor((j * valid) / duplicates);
      const later = Math.min(valid - 1, source + Math.floor(random() * 3000));
      placed.push({ at: 2 * later + 1, line: validLines[source]! });
    }
    for (let k = 0; k < bad; k++) {
      const id = `bad-${h}-${k}`;
      placed.push({
        at: 2 * Math.floor(random() * valid) + 1,
        line: badLine(random, hourMs, id, badSoFar++ % BAD_KINDS, pickStyle(random)),
      });
    }
    placed.sort((a, b) => a.at - b.at);
    const iso = new Date(hourMs).toISOString();
    const partition = join(lake, 'logs', `dt=${iso.slice(0, 10)}`, `hour=${iso.slice(11, 13)}`);
    mkdirSync(partition, { recursive: true });
    let from = 0;
    for (let f = 0; f < FILES_PER_HOUR; f++) {
      const count = share(placed.length, FILES_PER_HOUR, f);
      const body = placed
        .slice(from, from + count)
        .map((p) => `${p.line}\n`)
        .join('');
      from += count;
      const gz = gzipSync(body);
      bytes += gz.length;
      // Named the way a log shipper names its uploads, not like Tandem's archiver.
      writeFileSync(join(partition, `web-${f}-${Math.floor(hourMs / 1000)}-${hex(random, 8)}.json.gz`), gz);
    }
    process.stderr.write(
      `[bench] foreign logs: hour ${h + 1}/${HOURS} (${Math.round((Date.now() - started) / 1000)}s)\n`,
    );
  }
  const data: ForeignData = {
    lake,
    day: FOREIGN_DAY,
    hours: HOURS,
    files: HOURS * FILES_PER_HOUR,
    lines,
    bad: badTotal,
    duplicates: duplicateTotal,
    events: lines - badTotal - duplicateTotal,
    bytes,
  };
  writeFileSync(marker, JSON.stringify({ shape, data }));
  return data;
}
