// GET /v1/views/<view>/series and /top, registered once per view so each route's schema names
// exactly that view's dimensions, measures and granularities (and the OpenAPI spec says so).
import { type DimensionValue, type ServedVersionReader, TandemError } from '@tandem/core';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { queryInvalid, queryTooLarge } from '../http-errors.ts';
import type {
  BatchSnapshot,
  Freshness,
  MergeEngine,
  SeriesQuery,
  SeriesResult,
} from '../query/merge-engine.ts';
import { LruCache } from '../query/lru-cache.ts';
import { TopK } from '../query/top-ranking.ts';
import type { Granularity } from '../query/time-grid.ts';
import { buildViewModel, hasTopRoute, type ViewModel } from '../query/view-model.ts';
import {
  dimensionFilter,
  integerParameter,
  type QueryLimits,
  resolveGroupBy,
  resolveMeasures,
  resolveRange,
} from './query-params.ts';
import { errorRef, iso, keyedErrors, seriesBody, timeParameter, topBody } from './schemas.ts';

export interface ViewRoutesOptions {
  models: ViewModel[];
  engine: MergeEngine;
  limits: QueryLimits;
  now: () => number;
  /** Serialized answers of fully sealed queries kept, keyed by query and pointer versions. */
  responseCacheEntries: number;
  /** Which version of each view serves; null serves every view at its catalog definition. */
  versions: ServedVersionReader | null;
}

/** The version one query is answered from: its model (named by the ref readers resolve) and its names. */
interface ServedModel {
  model: ViewModel;
  /** `v<n>`. */
  version: string;
  fingerprint: string;
}

interface SeriesQuerystring {
  from?: string;
  to?: string;
  granularity?: Granularity;
  groupBy?: string;
  measures?: string;
  [dimension: string]: unknown;
}

interface TopQuerystring {
  from?: string;
  to?: string;
  by?: string;
  k?: number;
  dimension?: string;
  [dimension: string]: unknown;
}

function listPattern(names: readonly string[], extra: readonly string[] = []): string {
  const item = `(?:${names.map(escapeRegExp).join('|')})`;
  const alternatives = [...extra.map(escapeRegExp), `${item}(?:,${item})*`];
  return `^(?:${alternatives.join('|')})$`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Numeric text a filter on an integer or number dimension accepts (then read as a number). */
const integerPattern = '^[+-]?[0-9]{1,15}$';
const numberPattern = '^[+-]?(?:[0-9]{1,16}(?:\\.[0-9]{0,16})?|\\.[0-9]{1,16})(?:[eE][+-]?[0-9]{1,2})?$';

/** One equality-filter parameter per dimension, named as `DimensionModel.parameter` says. */
function dimensionParameters(model: ViewModel): Record<string, object> {
  const properties: Record<string, object> = {};
  for (const dimension of model.dimensionModels) {
    const numeric = dimension.type === 'integer' || dimension.type === 'number';
    properties[dimension.parameter] = {
      type: 'string',
      maxLength: numeric ? 40 : 512,
      ...(numeric ? { pattern: dimension.type === 'integer' ? integerPattern : numberPattern } : {}),
      description: `Only rows whose ${dimension.name} (${dimension.type}) equals this value`,
    };
  }
  return properties;
}

/**
 * Everything but coverage and series. `freshnessMs` is measured when the watermark was read, so
 * the head, and with it a whole cached answer, stays byte-identical between two reads.
 */
function headJson(fields: Record<string, unknown>, freshness: Freshness, complete: boolean): string {
  const freshest = freshness.speedWatermark ?? freshness.sealedThrough;
  const head = {
    ...fields,
    sealedThrough: iso(freshness.sealedThrough),
    speedWatermark: iso(freshness.speedWatermark),
    freshnessMs: freshest === null ? null : Math.max(0, freshness.at - freshest),
    complete,
  };
  const json = JSON.stringify(head);
  return json.slice(0, -1);
}

const isoStrings = new Map<number, string>();

/** ISO text of an instant; bucket starts repeat across requests, so they are kept. */
function isoOf(ts: number): string {
  let text = isoStrings.get(ts);
  if (text === undefined) {
    if (isoStrings.size >= 100_000) isoStrings.clear();
    text = new Date(ts).toISOString();
    isoStrings.set(ts, text);
  }
  return text;
}

/**
 * The `coverage` and `series` members, built as text: cached buckets carry their values already
 * serialized, so a warm answer mostly concatenates strings. Same output as JSON.stringify.
 */
function coverageAndSeriesJson(result: SeriesResult): string {
  let out = '"coverage":[';
  result.coverage.forEach((entry, index) => {
    if (index > 0) out += ',';
    out += `{"bucket":"${isoOf(entry.bucket)}","source":"${entry.source}","runId":${entry.runId === null ? 'null' : JSON.stringify(entry.runId)}}`;
  });
  out += '],"series":[';
  result.groups.forEach((group, groupIndex) => {
    if (groupIndex > 0) out += ',';
    out += `{"dims":${JSON.stringify(group.dims)},"points":[`;
    group.points.forEach((point, pointIndex) => {
      if (pointIndex > 0) out += ',';
      out += `{"bucket":"${isoOf(point.bucket)}","source":"${point.source}","values":${point.valuesJson ?? JSON.stringify(point.values)}}`;
    });
    out += ']}';
  });
  return `${out}]`;
}

function sendJson(reply: FastifyReply, json: string | Buffer, limits: QueryLimits): FastifyReply {
  if (json.length > limits.maxResponseBytes) {
    throw queryTooLarge(
      'granularity',
      `the answer would be ${json.length} bytes, more than the limit of ${limits.maxResponseBytes}; ` +
        'use a coarser granularity, a shorter range, fewer measures or a filter',
    );
  }
  return reply.type('application/json; charset=utf-8').send(json);
}

export const viewRoutes: FastifyPluginAsync<ViewRoutesOptions> = async (app, options) => {
  const { engine, limits, now } = options;
  // Weights are 64 KiB units. Tails of sealed answers live until evicted; live tails and whole
  // answers (tail plus the head of the current freshness figures) turn over every second or so.
  const sealedTails = new LruCache<Buffer>(options.responseCacheEntries);
  const liveTails = new LruCache<Buffer>(512);
  const answers = new LruCache<Buffer>(512);
  const weightOf = (bytes: Buffer) => Math.ceil(bytes.length / 65_536);
  // Models of versions other than the catalog's definitions, by ref and fingerprint (few: the
  // active version of each view, and the one before it around a switch).
  const versionModels = new Map<string, ViewModel>();

  /**
   * Reads the active pointer once: everything the query reads after this comes from that one
   * version (its ref names the version in every reader call and cache key), and the answer names it.
   * A filter on a dimension that version lacks is refused rather than ignored.
   */
  async function served(model: ViewModel, query: Record<string, unknown>): Promise<ServedModel> {
    const active = options.versions === null ? null : await options.versions.active(model.name);
    if (active === null || active.ref === model.name) {
      const view = active?.view ?? model.view;
      return { model, version: `v${view.version}`, fingerprint: view.fingerprint };
    }
    const key = `${active.ref}\u0001${active.fingerprint}`;
    let versionModel = versionModels.get(key);
    if (versionModel === undefined) {
      if (versionModels.size >= 64) versionModels.clear();
      versionModel = { ...buildViewModel(active.view), name: active.ref };
      versionModels.set(key, versionModel);
    }
    for (const dimension of model.dimensionModels) {
      if (Object.hasOwn(query, dimension.parameter) && !versionModel.dimensions.includes(dimension.name)) {
        throw queryInvalid(
          dimension.parameter,
          `querystring/${dimension.parameter}: ${model.name} is served by v${active.n} now, which has no dimension "${dimension.name}" (a newer version is being built)`,
        );
      }
    }
    return { model: versionModel, version: `v${active.n}`, fingerprint: active.fingerprint };
  }

  async function snapshotAndFreshness(
    model: ViewModel,
    range: { from: number; to: number },
  ): Promise<[BatchSnapshot, Freshness]> {
    // The batch snapshot is taken before anything else is read (see merge-engine.ts).
    const snapshot = await engine.snapshot(model.name, range);
    const freshness = await engine.freshness(model.name, model.stream);
    return [snapshot, freshness];
  }

  for (const configModel of options.models) {
    const model = configModel;
    const dimensionProps = dimensionParameters(model);
    const measureNames = [
      ...model.measureNames,
      ...model.outputs.filter((o) => !model.measureNames.includes(o)),
    ];

    app.get<{ Querystring: SeriesQuerystring }>(
      `/v1/views/${model.name}/series`,
      {
        config: { scope: 'read' },
        schema: {
          tags: ['views'],
          summary: `Merged time series of ${model.name}`,
          description:
            `View ${model.name} of stream ${model.stream}, ${model.view.bucket} buckets. ` +
            'Per base hour the sealed batch partial if present, else the speed partial, else none; ' +
            "coarser buckets merge the view's partials with the measures' own merge. Dimension " +
            `parameters (${model.dimensionModels.map((d) => d.parameter).join(', ') || 'none'}) filter by equality.`,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              from: timeParameter('Range start (inclusive), floored to the bucket; default `to` - 24h'),
              to: timeParameter('Range end (exclusive), ceiled to the bucket; default now'),
              granularity: {
                type: 'string',
                enum: model.granularities,
                default: model.granularities.includes('1h') ? '1h' : model.granularities[0],
                description: 'Output bucket size; `all` is one bucket for the whole range',
              },
              ...(model.dimensions.length === 0
                ? {}
                : {
                    groupBy: {
                      type: 'string',
                      maxLength: 256,
                      pattern: listPattern(model.dimensions, ['none']),
                      description: 'Comma-separated dimensions to group by, or `none`; default all',
                    },
                  }),
              measures: {
                type: 'string',
                maxLength: 1024,
                pattern: listPattern(measureNames),
                description: 'Comma-separated measures or value names; default all',
              },
              ...dimensionProps,
            },
          },
          response: { 200: seriesBody, ...keyedErrors },
        },
      },
      async (request, reply) => {
        const query = request.query;
        const { model, version, fingerprint } = await served(configModel, query);
        const granularity = query.granularity ?? '1h';
        const range = resolveRange(query, granularity, now(), limits);
        const seriesQuery: SeriesQuery = {
          model,
          range,
          granularity,
          filter: dimensionFilter(model, query),
          groupBy: resolveGroupBy(model, query.groupBy),
          ...resolveMeasures(model, query.measures),
        };
        const [snapshot, freshness] = await snapshotAndFreshness(model, range);
        const head = headJson(
          {
            view: model.view.name,
            version,
            fingerprint,
            granularity,
            from: new Date(range.from).toISOString(),
            to: new Date(range.to).toISOString(),
          },
          freshness,
          snapshot.allSealed,
        );
        const queryKey = [
          model.name,
          granularity,
          range.from,
          range.to,
          JSON.stringify(seriesQuery.filter),
          seriesQuery.groupBy.join(','),
          seriesQuery.outputs.join(','),
        ].join('\u0001');
        // The tail (coverage and series) is cached under everything it is made of: the pointer
        // versions for a sealed range (immutable until a recompute), or for a live one also the
        // identity of the cached speed reads and the watermark (so at most the speed cache's TTL).
        let tailKey: string;
        let run: () => Promise<SeriesResult>;
        if (snapshot.allSealed) {
          tailKey = `${queryKey}\u0001${snapshot.versionsKey}`;
          run = () => engine.series(seriesQuery, snapshot, freshness);
        } else {
          const prepared = await engine.prepare(seriesQuery, snapshot, freshness);
          tailKey = `${queryKey}\u0001${prepared.inputsKey}`;
          run = prepared.run;
        }
        // Whole answers as bytes, so repeated answers are neither re-encoded nor copied.
        const answerKey = `${tailKey}\u0002${head}`;
        const answer = answers.get(answerKey);
        if (answer !== undefined) return sendJson(reply, answer, limits);
        const cache = snapshot.allSealed ? sealedTails : liveTails;
        let tail = cache.get(tailKey);
        if (tail === undefined) {
          tail = Buffer.from(`${coverageAndSeriesJson(await run())}}`);
          cache.set(tailKey, tail, weightOf(tail));
        }
        const bytes = Buffer.concat([Buffer.from(`${head},`), tail]);
        answers.set(answerKey, bytes, weightOf(bytes));
        return sendJson(reply, bytes, limits);
      },
    );

    const rankable = model.numericOutputs;
    if (hasTopRoute(model)) {
      app.get<{ Querystring: TopQuerystring }>(
        `/v1/views/${model.name}/top`,
        {
          config: { scope: 'read' },
          schema: {
            tags: ['views'],
            summary: `Top ${model.dimensions.join('/')} values of ${model.name} by a measure over a range`,
            description: `View ${model.name} of stream ${model.stream}: dimension values ranked over whole hours.`,
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: {
                from: timeParameter('Range start (inclusive), floored to the hour; default `to` - 24h'),
                to: timeParameter('Range end (exclusive), ceiled to the hour; default now'),
                by: {
                  type: 'string',
                  enum: rankable,
                  default: rankable[0],
                  description: 'Value to rank by (descending; nulls last)',
                },
                k: { type: 'integer', minimum: 1, maximum: 1000, default: 10, description: 'How many' },
                dimension: {
                  type: 'string',
                  enum: model.dimensions,
                  default: model.dimensions[0],
                  description: 'Dimension whose values are ranked',
                },
                ...dimensionProps,
              },
            },
            response: { 200: topBody, ...keyedErrors },
          },
        },
        async (request, reply) => {
          const query = request.query;
          const { model, version, fingerprint } = await served(configModel, query);
          const by = query.by ?? rankable[0]!;
          const k = integerParameter('k', query.k ?? 10, 1, 1000);
          const dimension = query.dimension ?? model.dimensions[0]!;
          if (!model.numericOutputs.includes(by)) {
            throw queryInvalid(
              'by',
              `querystring/by: ${model.view.name} is served by ${version} now, which has no value "${by}"`,
            );
          }
          if (!model.dimensions.includes(dimension)) {
            throw queryInvalid(
              'dimension',
              `querystring/dimension: ${model.view.name} is served by ${version} now, which has no dimension "${dimension}"`,
            );
          }
          const range = resolveRange(query, 'all', now(), {
            ...limits,
            maxRangeMs: { ...limits.maxRangeMs, all: limits.maxTopRangeMs },
          });
          const seriesQuery: SeriesQuery = {
            model,
            range,
            granularity: 'all',
            filter: dimensionFilter(model, query),
            groupBy: [dimension],
            outputs: [...model.outputs],
            measures: [...model.measureNames],
          };
          const [snapshot, freshness] = await snapshotAndFreshness(model, range);
          const head = headJson(
            {
              view: model.view.name,
              version,
              fingerprint,
              from: new Date(range.from).toISOString(),
              to: new Date(range.to).toISOString(),
              dimension,
              by,
              k,
            },
            freshness,
            snapshot.allSealed,
          );
          // A ranking of sealed hours only changes with their pointer versions: kept like a sealed
          // series tail, so a repeated /top costs no merge.
          const filterJson = JSON.stringify(seriesQuery.filter);
          const tailKey = snapshot.allSealed
            ? `top\u0001${model.name}\u0001${range.from}\u0001${range.to}\u0001${filterJson}\u0001${dimension}\u0001${by}\u0001${k}\u0001${snapshot.versionsKey}`
            : null;
          let tail = tailKey === null ? undefined : sealedTails.get(tailKey);
          if (tail === undefined) {
            const merged = await engine.mergeAll(seriesQuery, snapshot, freshness, limits.maxTopGroups);
            const coverage = merged.coverage.map((entry) => ({
              bucket: isoOf(entry.bucket),
              source: entry.source,
              runId: entry.runId,
            }));
            const items = rankGroups(model, merged, by, k);
            tail = Buffer.from(`"coverage":${JSON.stringify(coverage)},"items":${JSON.stringify(items)}}`);
            if (tailKey !== null) sealedTails.set(tailKey, tail, weightOf(tail));
          }
          return sendJson(reply, Buffer.concat([Buffer.from(`${head},`), tail]), limits);
        },
      );
    }
  }

  // Unknown views fall through to these (static routes win over parametric ones): a 404 that
  // names the known views. Hidden from the spec, which already enumerates the real routes.
  const known = options.models.map((model) => model.name).join(', ');
  for (const suffix of ['series', 'top']) {
    app.get(
      `/v1/views/:view/${suffix}`,
      {
        config: { scope: 'read' },
        schema: {
          hide: true,
          params: {
            type: 'object',
            additionalProperties: false,
            properties: { view: { type: 'string', maxLength: 128 } },
          },
          response: { 404: errorRef },
        },
      },
      async (request) => {
        const { view } = request.params as { view: string };
        const exists = options.models.find((model) => model.name === view);
        throw new TandemError(
          exists === undefined ? 'TANDEM_ERR_VIEW_UNKNOWN' : 'TANDEM_ERR_NOT_FOUND',
          exists === undefined
            ? `view "${view.slice(0, 128)}" does not exist; known views: ${known}`
            : `view "${view}" has no ${suffix} route (it has no rankable dimension)`,
        );
      },
    );
  }
};

/**
 * The k groups (of one dimension) ranking highest by one value, descending, nulls last, ties by
 * value: scored one group at a time into a heap of k, and only the winners finalized whole.
 */
export function rankGroups(
  model: ViewModel,
  merged: Awaited<ReturnType<MergeEngine['mergeAll']>>,
  by: string,
  k: number,
): Array<{
  rank: number;
  value: DimensionValue;
  score: number | null;
  source: string;
  values: Record<string, unknown>;
}> {
  const top = new TopK<(typeof merged.groups)[number]>(k);
  // Scores need only the state of the measure that yields `by` (a sketch's estimate is not free).
  const owner = model.measureNames.find((measure) => model.outputsByMeasure[measure]!.includes(by))!;
  for (const group of merged.groups) {
    const state = group.states[owner];
    const raw = model.finalize(state === undefined ? {} : { [owner]: state }, [by])[by];
    top.offer({
      score: typeof raw === 'number' && Number.isFinite(raw) ? raw : null,
      label: String(group.dims[0] ?? null),
      item: group,
    });
  }
  return top.ranked().map((candidate, index) => ({
    rank: index + 1,
    value: candidate.item.dims[0] ?? null,
    score: candidate.score,
    source: merged.source,
    values: model.finalize(candidate.item.states, model.outputs),
  }));
}
