// Options are merged once — defaults, then the environment's config, then explicit values — and
// every value is checked at construction with an error that names the option.
import { loadConfig } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { defaultSpeedWorkerOptions, resolveTuning } from '../src/options.ts';

describe('resolveTuning', () => {
  it('lets explicit options win over the config, and the config over the defaults', () => {
    const config = loadConfig({ TANDEM_TOPIC: 'clicks', SPEED_DEDUP_WINDOW: '500', REDIS_PREFIX: 'env' });
    const tuning = resolveTuning({ config, prefix: 'explicit', maxBatchSize: 10 }, 'v1');
    expect(tuning).toMatchObject({
      topic: 'clicks',
      dlqTopic: 'clicks.dlq',
      lateTopic: 'clicks.late',
      dedupWindow: 500,
      prefix: 'explicit',
      maxBatchSize: 10,
      outOfOrdernessMs: 30_000,
      pipelineVersion: 'v1',
    });
    expect(resolveTuning({ topic: 'x' }, 'v1')).toMatchObject({ dlqTopic: 'x.dlq', lateTopic: 'x.late' });
    expect(resolveTuning({}, 'v1').groupId).toBe(defaultSpeedWorkerOptions.groupId);
  });

  it('refuses invalid values, naming the option', () => {
    expect(() => resolveTuning({ maxBatchSize: 0 }, 'v1')).toThrow(/maxBatchSize=0/);
    expect(() => resolveTuning({ allowedLatenessMs: -1 }, 'v1')).toThrow(/allowedLatenessMs/);
    expect(() => resolveTuning({ prefix: 'a{b}' }, 'v1')).toThrow(/hash tags/);
    expect(() => resolveTuning({ topic: 'events', dlqTopic: 'events' }, 'v1')).toThrow(/dlqTopic/);
  });
});
