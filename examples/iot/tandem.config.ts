// An IoT deployment beside the web stream: sensor readings per site and device, with per-minute
// average and maximum temperature, p95 temperature, distinct devices and a battery alarm count.
// Run it with TANDEM_CONFIG=examples/iot/tandem.config.ts (see "Bring your own stream" in the README).
import { defineConfig, webStreamSpec, webViewSpecs } from '@tandem/core';

export default defineConfig({
  streams: [
    webStreamSpec,
    {
      name: 'iot',
      topic: 'iot-readings',
      schema: {
        type: 'object',
        properties: {
          reading_id: { type: 'string', minLength: 1, maxLength: 64 },
          ts: { type: 'integer', description: 'epoch milliseconds' },
          site: { type: 'string', minLength: 1, maxLength: 64 },
          device: { type: 'string', minLength: 1, maxLength: 64 },
          kind: { type: 'string', enum: ['thermo', 'hygro', 'combo'], default: 'thermo' },
          temperature_c: { type: 'number', minimum: -90, maximum: 150 },
          humidity: { type: ['number', 'null'], minimum: 0, maximum: 100 },
          battery_low: { type: 'boolean', default: false },
        },
        required: ['reading_id', 'ts', 'site', 'device', 'temperature_c'],
      },
      time: { field: 'ts', encoding: 'epoch_ms' },
      idField: 'reading_id',
    },
  ],
  views: [
    ...webViewSpecs,
    {
      name: 'site_minutely',
      stream: 'iot',
      bucket: '1m',
      dimensions: ['site'],
      measures: {
        readings: { kind: 'count' },
        avg_temperature_c: { kind: 'avg', field: 'temperature_c' },
        max_temperature_c: { kind: 'max', field: 'temperature_c' },
        temperature_c: { kind: 'quantiles', field: 'temperature_c', qs: [0.95] },
        devices: { kind: 'distinct', field: 'device' },
        low_battery: { kind: 'count', where: { op: 'eq', field: 'battery_low', value: true } },
      },
    },
  ],
});
