// kill -9 the archiver (a child process) six times — three times inside onAfterUpload, between a
// segment's durable upload and its offset commit, three times from outside at a random moment —
// then let a last run finish. Every event must be in the lake, and because rotation depends only
// on offsets and content, the rewrites must land on the same names: the lake equals, file for file,
// the layout of a run that never crashed, with no duplicate at all.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { HOUR_MS, MINUTE_MS, type TandemEvent } from '@tandem/core';
import { archiveFileName, logPartitionPrefix } from '@tandem/lake';
import { describe, it } from 'vitest';
import type { LakeKind } from '@tandem/test-support/lake.ts';
import { kafkaBrokers } from '@tandem/test-support/stack.ts';
import {
  batchAgainstTruth,
  compareWithTruth,
  generateStream,
  openArchiverTestStack,
  type PlacedMessage,
  produce,
  readLake,
  waitForCommitted,
} from './support/archiver-world.ts';

const RUNNER = fileURLToPath(new URL('./fixtures/run-archiver.ts', import.meta.url));
const PARTITIONS = 3;
// 30 000 valid + 150 invalid = 30 150 messages, 10 050 per partition = 30 segments of 335:
// every segment closes on its record count, none on time, so the layout is fully determined.
const VALID = 30_000;
const SEGMENT_RECORDS = 335;

interface RunnerLine {
  type: string;
  [key: string]: unknown;
}

interface Runner {
  child: ChildProcess;
  lines: RunnerLine[];
  waitFor(predicate: (lines: RunnerLine[]) => boolean, timeoutMs: number): Promise<boolean>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startRunner(config: Record<string, unknown>): Runner {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', RUNNER], {
    env: { ...process.env, TANDEM_ARCHIVER_RUN: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: RunnerLine[] = [];
  const listeners = new Set<() => void>();
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      lines.push(JSON.parse(pending.slice(0, newline)) as RunnerLine);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    for (const listener of listeners) listener();
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      if (code !== null && code !== 0) process.stderr.write(`runner exited with ${code}:\n${stderr}\n`);
      resolve({ code, signal });
      for (const listener of listeners) listener();
    });
  });
  return {
    child,
    lines,
    exited,
    waitFor: (predicate, timeoutMs) =>
      new Promise((resolve) => {
        const check = (): void => {
          if (predicate(lines) || child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(predicate(lines));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          resolve(false);
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** The files a run without any crash writes: per partition, segments of SEGMENT_RECORDS offsets. */
function expectedLayout(topic: string, placed: PlacedMessage[]): Map<string, TandemEvent[]> {
  const files = new Map<string, TandemEvent[]>();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const log = placed.filter((message) => message.partition === partition);
    for (let start = 0; start < log.length; start += SEGMENT_RECORDS) {
      const byHour = new Map<number, { first: bigint; events: TandemEvent[] }>();
      for (const message of log.slice(start, start + SEGMENT_RECORDS)) {
        if (message.event === null) continue;
        const hour = Math.floor(message.event.timestamp / HOUR_MS) * HOUR_MS;
        const buffer = byHour.get(hour) ?? { first: message.offset, events: [] };
        buffer.events.push(message.event);
        byHour.set(hour, buffer);
      }
      for (const [hour, buffer] of byHour) {
        files.set(logPartitionPrefix(hour) + archiveFileName(topic, partition, buffer.first), buffer.events);
      }
    }
  }
  return files;
}

describe.concurrent('archiver crash recovery', () => {
  it.concurrent.for<LakeKind>(['file', 's3'])(
    'loses nothing and rewrites the same names after six kill -9 (%s lake)',
    { timeout: 170_000 },
    async (kind, { expect, onTestFinished }) => {
      const { lake, kafka, admin, topic } = await openArchiverTestStack(kind, PARTITIONS, onTestFinished);
      const runners: Runner[] = [];
      onTestFinished(async () => {
        for (const runner of runners) if (runner.child.exitCode === null) runner.child.kill('SIGKILL');
      });

      const stream = generateStream({ valid: VALID, partitions: PARTITIONS, invalidEvery: 200, seed: 7 });
      expect(stream.messages.length).toBe(PARTITIONS * 30 * SEGMENT_RECORDS);
      const placed = await produce(kafka, topic, stream.messages);

      const groupId = `test-${randomUUID()}`;
      const config = {
        brokers: kafkaBrokers,
        topic,
        groupId,
        lake: lake.options,
        maxSegmentRecords: SEGMENT_RECORDS,
        maxWaitMs: 10 * 60_000,
        outOfOrdernessMs: 20 * MINUTE_MS,
        crashAfterUploads: null as number | null,
        // Widens the window between a durable upload and its commit, and paces the run so that
        // every kill lands mid-stream.
        uploadDelayMs: 20,
        // The broker's minimum session: a killed member is evicted after 6 s, so restarts rejoin fast.
        consumer: {
          sessionTimeout: 6_000,
          heartbeatInterval: 500,
          rebalanceTimeout: 10_000,
          maxBytesPerPartition: 16 * 1024,
        },
      };

      const kills: string[] = [];
      const remaining = async (): Promise<number> => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return committed!.partitions.reduce(
          (sum, entry) => sum + (30 * SEGMENT_RECORDS - Math.max(0, Number(entry.offset))),
          0,
        );
      };
      for (let run = 0; run < 6; run++) {
        if (run % 2 === 0) {
          // Inside onAfterUpload: files durable, offset not committed.
          const runner = startRunner({ ...config, crashAfterUploads: 2 + run / 2 });
          runners.push(runner);
          const { signal } = await runner.exited;
          expect(signal).toBe('SIGKILL');
          expect(runner.lines.some((line) => line.type === 'crashing')).toBe(true);
          kills.push(
            `run ${run}: in onAfterUpload after ${runner.lines.filter((l) => l.type === 'uploaded').length} uploads`,
          );
          // Every kill interrupts work: something is still uncommitted afterwards.
          expect(await remaining(), kills.join('; ')).toBeGreaterThan(0);
        } else {
          // From outside, at a random moment once it has made progress.
          const runner = startRunner(config);
          runners.push(runner);
          const progressed = await runner.waitFor(
            (lines) => lines.filter((line) => line.type === 'committed').length >= 2,
            60_000,
          );
          expect(progressed).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 50)));
          runner.child.kill('SIGKILL');
          const { signal } = await runner.exited;
          expect(signal).toBe('SIGKILL');
          kills.push(
            `run ${run}: from outside after ${runner.lines.filter((l) => l.type === 'committed').length} commits`,
          );
          expect(await remaining(), kills.join('; ')).toBeGreaterThan(0);
        }
      }
      expect(kills).toHaveLength(6);
      const last = startRunner(config);
      runners.push(last);
      await waitForCommitted(admin, groupId, topic, 90_000);
      last.child.kill('SIGTERM');
      const stoppedAt = Date.now();
      expect(await last.exited).toEqual({ code: 0, signal: null });
      // A graceful stop leaves no timer or socket behind that would keep the process alive.
      expect(Date.now() - stoppedAt).toBeLessThan(15_000);

      const files = await readLake(lake.store);
      const comparison = compareWithTruth(files, stream.truth);
      expect(comparison.missing).toEqual([]);
      expect(comparison.altered).toEqual([]);
      expect(comparison.unknown).toEqual([]);
      expect(comparison.misplaced).toEqual([]);
      // Same names, same contents as an uninterrupted run: no duplicate survived the crashes.
      expect(comparison.duplicates).toBe(0);
      const expected = expectedLayout(topic, placed);
      expect(files.map((file) => file.key).sort()).toEqual([...expected.keys()].sort());
      for (const file of files) expect(file.events).toEqual(expected.get(file.key));

      // The batch layer over the archived hours equals the truth.
      const batch = await batchAgainstTruth(
        lake.store,
        topic,
        stream.truth.values(),
        stream.firstHour,
        stream.hours,
      );
      expect(batch.failedHours).toEqual([]);
      expect(batch.mismatches).toEqual([]);
      expect(batch.cells).toBe(stream.hours * 4);
    },
  );
});
