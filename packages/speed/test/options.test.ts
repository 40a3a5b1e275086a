// Options are merged once — defaults, then the environment's config, then explicit values — and
// every value is checked at construction with an error that names the option.
import { builtinViews, createCatalog, defineStream, defineView, loadConfig, webStream } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { defaultSpeedWorkerOptions, resolveStream, resolveTuning, speedGroupId } from '../src/options.ts';
import { iotStreamSpec } from './support/iot-stream.ts';

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

describe('resolveStream', () => {
  const iot = defineStream(iotStreamSpec('iot', 'iot-readings', true));
  const catalog = createCatalog(
    [webStream, iot],
    [
      ...Object.values(builtinViews),
      defineView({ name: 'iot_count', stream: 'iot', bucket: '1m', measures: { n: { kind: 'count' } } }, iot),
    ],
  );

  it('defaults to the web stream and its views, in the deployment group', () => {
    const tuning = resolveTuning({ groupId: 'g' }, 'v1');
    const resolved = resolveStream({}, tuning);
    expect(resolved.stream.name).toBe('events');
    expect(resolved.views.map((view) => view.name)).toEqual([
      'endpoint_hourly',
      'sessions_hourly',
      'trending_pages',
    ]);
    expect(resolved.groupId).toBe('g');
    const onTopic = resolveStream({ topic: 'clicks' }, resolveTuning({ topic: 'clicks' }, 'v1'));
    expect([onTopic.stream.topic, onTopic.stream.dlqTopic]).toEqual(['clicks', 'clicks.dlq']);
  });

  it("takes another stream's topics, its views from the catalog, and a group of its own", () => {
    const config = loadConfig({ TANDEM_TOPIC: 'clicks', SPEED_GROUP_ID: 'base' });
    const options = { config, stream: iot, catalog };
    const tuning = resolveTuning(options, 'v1');
    expect(tuning).toMatchObject({
      topic: 'iot-readings',
      dlqTopic: 'iot-readings.dlq',
      lateTopic: 'iot-readings.late',
    });
    const resolved = resolveStream(options, tuning);
    expect(resolved.views.map((view) => view.name)).toEqual(['iot_count']);
    expect(resolved.groupId).toBe('base.iot');
    expect(speedGroupId('base', 'events')).toBe('base');
  });

  it('refuses a stream without a catalog, views of another stream, and topics that contradict the stream', () => {
    expect(() => resolveStream({ stream: iot }, resolveTuning({ stream: iot }, 'v1'))).toThrow(/catalog/);
    const options = { stream: iot, catalog, views: ['endpoint_hourly'] };
    expect(() => resolveStream(options, resolveTuning(options, 'v1'))).toThrow(
      /endpoint_hourly reads "events"/,
    );
    expect(() => resolveTuning({ stream: iot, topic: 'events' }, 'v1')).toThrow(/topic of stream "iot"/);
    expect(resolveTuning({ stream: iot, topic: 'iot-readings' }, 'v1').topic).toBe('iot-readings');
  });
});
