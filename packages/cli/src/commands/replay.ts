// `tandem replay [--stream S] --from <time>`: a Kappa-style rebuild of one stream's real-time views.
// A second speed worker of the stream (own consumer group) folds its topic from the given time into
// a fresh Redis namespace while the live one keeps serving; once the new namespace has caught up
// with the live one and with the end of the topic as it was when the replay began, one
// compare-and-set flips the stream's active-namespace pointer. Readers and the stream's live worker
// follow the pointer; the stream's keys in the old namespace are then dropped. Other streams are
// not touched. Interrupted before the switch, nothing visible changes and the half-built namespace
// is removed.
import { randomUUID } from 'node:crypto';
import { HOUR_MS } from '@tandem/core';
import { defineCommand, flag, option, withDefault } from '../framework/command.ts';
import { formatDuration, formatTime } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import {
  activeNamespace,
  dropNamespace,
  replayNamespace,
  switchNamespace,
} from '../wiring/speed-namespace.ts';
import { withPlatform } from './batch-ops.ts';
import { resolveStream, streamValue } from './catalog-args.ts';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export const replayCommand = defineCommand({
  path: ['replay'],
  summary: 'rebuild a stream’s real-time views from Kafka into a fresh namespace, switched over atomically',
  description:
    'Starts a separate speed worker of the stream (--stream; the web stream by default) that consumes its topic ' +
    'from --from into a new Redis namespace while the live views keep serving. When the new namespace has applied everything that was in the topic when the ' +
    'replay began and at least what the live worker has, the active-namespace pointer is switched in one ' +
    'step: the serving layer and every `tandem speed`/`tandem up` worker of the stream follow it, and the stream’s ' +
    'keys in the old namespace are dropped (unless --keep-old); other streams are not touched. Use it after a fix to the view logic, a lost or corrupted Redis, or to ' +
    're-derive late data. --from defaults to the oldest hour the batch layer has not sealed for the stream’s views, because older ' +
    'hours are served from batch anyway. Ctrl-C before the switch leaves the live views untouched.',
  options: {
    stream: option(streamValue(), {
      description: 'the stream whose views to rebuild',
      placeholder: 'stream',
      defaultText: "events, or the config's only stream",
    }),
    from: option(v.time(), {
      description: 'replay events the topic received from this time on',
      placeholder: 'time',
      defaultText: 'the oldest hour not sealed by the batch layer',
    }),
    timeout: withDefault(v.duration(), 3_600_000, {
      description: 'give up (and leave the live views as they are) if not caught up by then',
      placeholder: 'duration',
      defaultText: '1h',
    }),
    'keep-old': flag('keep the previous namespace’s keys after the switch'),
    'dry-run': flag('show what would be replayed; start nothing'),
  },
  reports: true,
  examples: [
    'tandem replay',
    'tandem replay --from -2h',
    'tandem replay --from 2025-01-31T12 --keep-old --json',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem replay --stream iot --from -2h',
  ],
  async run(context, options) {
    const stream = resolveStream(await context.catalog(), options.stream);
    return withPlatform(context, async (platform) => {
      const { RedisSpeedViewReader, startSpeedWorker } = await import('@tandem/speed');
      const config = platform.config;
      const catalog = platform.catalog;
      const redis = await platform.redis();
      const admin = await platform.admin();
      const topic = stream.topic;
      const base = config.redis.prefix;
      const now = context.now();
      let from = options.from;
      if (from === undefined) {
        from =
          (await platform.rebuildFrom(stream.name).catch(() => null)) ??
          Math.floor(now / HOUR_MS) * HOUR_MS - 24 * HOUR_MS;
        context.out.info(
          `replaying from ${formatTime(from)} (the oldest hour the batch layer has not sealed)`,
        );
      }
      if (from > now) throw usageError(`--from ${formatTime(from)} is in the future`);
      const topics = await admin.listTopics();
      if (!topics.includes(topic)) throw usageError(`topic ${topic} does not exist; nothing to replay`);
      const highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
      const starts = new Map(
        (await admin.fetchTopicOffsetsByTimestamp(topic, from)).map((p) => [p.partition, Number(p.offset)]),
      );
      const current = await activeNamespace(redis, base, stream.name);
      const toReplay = [...highs].reduce(
        (sum, [p, high]) => sum + Math.max(0, high - (starts.get(p) ?? 0)),
        0,
      );
      if (options['dry-run']) {
        context.out.line(
          `would replay ${toReplay} messages of ${topic} (stream ${stream.name}, ${highs.size} partitions) from ${formatTime(from)} into a new namespace, then switch from ${current}`,
        );
        context.out.result({
          dryRun: true,
          stream: stream.name,
          from: formatTime(from),
          topic,
          current,
          messages: toReplay,
        });
        return 0;
      }
      const target = await replayNamespace(base, now);
      const groupId = `${config.speed.groupId}.replay-${randomUUID().slice(0, 8)}`;
      context.out.info(
        `replaying ${toReplay} messages of stream ${stream.name} into namespace ${target} (live: ${current})`,
      );
      const worker = await startSpeedWorker({
        config,
        catalog,
        stream,
        kafka: platform.kafka(),
        redis,
        prefix: target,
        groupId,
        rebuildFrom: () => from,
        logger: platform.logger.child({ component: 'replay', stream: stream.name, namespace: target }),
      });
      const targetReader = new RedisSpeedViewReader({ redis, prefix: target, catalog });
      const liveReader = new RedisSpeedViewReader({ redis, prefix: current, catalog });
      const started = performance.now();
      const progress = context.out.progress({ label: 'replay', total: toReplay, unit: 'messages' });
      let switched = false;
      let outcome: 'switched' | 'interrupted' | 'timed-out' | 'lost-race' = 'interrupted';
      try {
        const deadline = Date.now() + options.timeout;
        for (;;) {
          if (context.signal.aborted) break;
          if (Date.now() > deadline) {
            outcome = 'timed-out';
            break;
          }
          const [replayed, live] = await Promise.all([
            targetReader.status(stream.name),
            liveReader.status(stream.name),
          ]);
          const applied = new Map(replayed.partitions.map((p) => [p.partition, p.appliedOffset]));
          const liveApplied = new Map(live.partitions.map((p) => [p.partition, p.appliedOffset]));
          let done = 0;
          let caughtUp = true;
          for (const [partition, high] of highs) {
            const start = starts.get(partition) ?? 0;
            const appliedOffset = applied.get(partition);
            const position =
              appliedOffset === null || appliedOffset === undefined ? start : Number(appliedOffset) + 1;
            const liveOffset = liveApplied.get(partition);
            const target = Math.max(
              high,
              liveOffset === null || liveOffset === undefined ? 0 : Number(liveOffset) + 1,
            );
            done += Math.max(0, Math.min(position, high) - start);
            if (position < target) caughtUp = false;
          }
          progress.update(done);
          if (caughtUp) {
            const result = await switchNamespace(redis, base, current, target, stream.name);
            if (!result.switched) {
              outcome = 'lost-race';
              context.out.error(
                `the active namespace changed to ${result.current} during the replay; keeping it and discarding ${target}`,
              );
              break;
            }
            switched = true;
            outcome = 'switched';
            break;
          }
          await sleep(500, context.signal);
        }
      } finally {
        progress.stop(
          switched
            ? `replay caught up in ${formatDuration(performance.now() - started)}; switched ${current} → ${target}`
            : `replay ${outcome}; live views unchanged (${current})`,
        );
        await worker.stop();
        await admin.deleteGroups([worker.groupId]).catch(() => undefined);
      }
      let dropped = 0;
      if (switched && !options['keep-old']) {
        // Let readers that resolved the old namespace just before the switch finish, and live workers
        // (which poll the pointer every second) move over, before removing what they used.
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        dropped = await dropNamespace(redis, base, current, stream.name);
      } else if (!switched) {
        dropped = await dropNamespace(redis, base, target, stream.name);
      }
      const summary = {
        dryRun: false,
        stream: stream.name,
        outcome,
        from: formatTime(from),
        previous: current,
        active: switched ? target : current,
        messages: toReplay,
        droppedKeys: dropped,
        elapsedMs: Math.round(performance.now() - started),
      };
      context.out.line(
        switched
          ? `active speed namespace is now ${target}${options['keep-old'] ? ` (kept ${current})` : ` (dropped ${dropped} keys of ${current})`}`
          : `no switch (${outcome}); ${target} removed`,
      );
      context.out.result(summary);
      if (outcome === 'interrupted') return 130;
      return switched ? 0 : 1;
    });
  },
});
