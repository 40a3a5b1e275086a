// The Lambda path as lambda.test.ts and lambda-cluster.test.ts both drive it, over a stream that
// `tandem generate` already put on Kafka: the truth computed from the generator's own records, and
// the run of speed, archiver and serve up to one sealed hour served from batch.
import { HOUR_MS, hourStart } from '@tandem/core';
import { listArchiverWatermarks, openObjectStore } from '@tandem/lake';
import { eventually, type World } from './harness.ts';
import { regenerate } from './truth.ts';

export interface EndpointTruth {
  /** Requests per hour and endpoint of every distinct valid event. */
  perHour: Map<number, Map<string, number>>;
  /** How many distinct valid events there are (what the speed layer applies). */
  distinct: number;
  /** Generated messages that are not valid events: each is dead-lettered once. */
  bad: number;
}

/** The truth of a generated stream, with plain loops over `tandem generate`'s records. */
export function endpointTruth(options: Parameters<typeof regenerate>[0]): EndpointTruth {
  const perHour = new Map<number, Map<string, number>>();
  const seen = new Set<string>();
  let bad = 0;
  for (const record of regenerate(options)) {
    if (record.label === 'bad') bad++;
    if (record.event === null || record.label === 'bad' || seen.has(record.event.event_id)) continue;
    seen.add(record.event.event_id);
    const hour = hourStart(record.event.timestamp);
    const perEndpoint = perHour.get(hour) ?? new Map<string, number>();
    perEndpoint.set(record.event.endpoint, (perEndpoint.get(record.event.endpoint) ?? 0) + 1);
    perHour.set(hour, perEndpoint);
  }
  return { perHour, distinct: seen.size, bad };
}

export interface LambdaRun {
  /** The hour `batch run` seals (the rest stays with speed). */
  sealedHour: number;
  /** Distinct valid events the speed layer must have applied. */
  expectedEvents: number;
  /** Partitions of the stream's topic: each writes an archiver watermark. */
  kafkaPartitions: number;
  /** Whether the serving layer answers `sealedHour` from batch yet. */
  servedFromBatch: () => Promise<boolean>;
  /** Where the started processes' stops go, for the file's afterAll. */
  stops: Array<() => Promise<number | null>>;
  timeoutMs: number;
}

/**
 * Starts `tandem speed`, `archiver` and `serve`; waits until the speed layer has applied every
 * event and every partition's archiver watermark passed the sealed hour; seals it with `tandem
 * batch run`; waits until serving answers it from batch. Returns the published run's id.
 */
export async function runLambdaPath(world: World, run: LambdaRun): Promise<string> {
  for (const component of ['speed', 'archiver', 'serve']) {
    const child = world.start([component]);
    run.stops.push(() => child.stop());
  }
  await eventually(
    'the speed layer to apply the stream',
    async () => {
      const status = await world.json<{ speed: { eventsApplied: number } }>(['status']);
      return status.speed.eventsApplied === run.expectedEvents ? true : undefined;
    },
    run.timeoutMs,
  );
  const lake = openObjectStore(world.config.lake);
  try {
    await eventually(
      'the archiver to archive the sealed hour',
      async () => {
        const marks = await listArchiverWatermarks(lake, world.env.TANDEM_TOPIC);
        return marks.length === run.kafkaPartitions &&
          marks.every((m) => m.watermark >= run.sealedHour + HOUR_MS)
          ? true
          : undefined;
      },
      run.timeoutMs,
    );
  } finally {
    await lake.close();
  }
  const outcome = await world.json<{ status: string; runId: string | null }>([
    'batch',
    'run',
    '--view',
    'endpoint_hourly',
    '--hour',
    String(run.sealedHour),
  ]);
  if (outcome.status !== 'published' || outcome.runId === null) {
    throw new Error(`batch run of the sealed hour answered ${JSON.stringify(outcome)}, not published`);
  }
  // the serving layer re-reads sealed hours about once a second
  await eventually('the serving layer to see the sealed hour', async () =>
    (await run.servedFromBatch()) ? true : undefined,
  );
  return outcome.runId;
}
