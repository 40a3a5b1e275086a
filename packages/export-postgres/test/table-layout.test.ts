// The documented naming scheme and column types, and the configuration checks that need no database:
// what a BI tool's SQL and the README rely on.
import { builtinCatalog, createCatalog, defineView, loadConfig, webStream } from '@tandem/core';
import { describe, expect, it } from 'vitest';
import { redactUrl, resolveExportOptions, tableLayoutOf, tableNameOf } from '../src/index.ts';
import { userMinutes } from './support/fixtures.ts';

describe('table layout', () => {
  it('names tables <view>_v<version>, shortening long names with a hash that keeps them apart', () => {
    expect(tableNameOf('endpoint_hourly', 1)).toBe('endpoint_hourly_v1');
    const long = `a${'b'.repeat(62)}`;
    const other = `a${'b'.repeat(61)}c`;
    expect(tableNameOf(long, 12)).toMatch(/^ab+_[0-9a-f]{8}_v12$/);
    expect(tableNameOf(long, 12).length).toBeLessThanOrEqual(59);
    expect(tableNameOf(long, 12)).not.toBe(tableNameOf(other, 12));
  });

  it('types each column by its measure and field, and keys nullable dimensions NULLS NOT DISTINCT', () => {
    const catalog = builtinCatalog();
    const endpoint = tableLayoutOf(catalog, catalog.view('endpoint_hourly'), 'tandem');
    expect(endpoint.qualified).toBe('"tandem"."endpoint_hourly_v1"');
    expect(endpoint.qualifiedAlias).toBe('"tandem"."endpoint_hourly"');
    expect(endpoint.keyKind).toBe('primary key');
    expect(endpoint.columns.map((c) => [c.name, c.type, c.notNull])).toEqual([
      ['bucket', 'timestamp with time zone', true],
      ['endpoint', 'text', true],
      ['requests', 'bigint', true],
      ['requests_2xx', 'bigint', true],
      ['errors_5xx', 'bigint', true],
      ['avg_latency_ms', 'double precision', false],
      ['p50_latency_ms', 'double precision', false],
      ['p95_latency_ms', 'double precision', false],
      ['p99_latency_ms', 'double precision', false],
      ['avg_response_bytes', 'double precision', false],
      ['unique_users', 'bigint', true],
      ['run_id', 'text', true],
      ['fencing_token', 'bigint', true],
      ['pointer_version', 'text', true],
    ]);
    const trending = tableLayoutOf(catalog, catalog.view('trending_pages'), 'tandem');
    expect(trending.columns.find((c) => c.name === 'page_views')?.type).toBe('jsonb');

    const users = tableLayoutOf(createCatalog([webStream], [userMinutes]), userMinutes, 's');
    expect(users.keyKind).toBe('unique nulls not distinct');
    expect(users.keyColumns).toEqual(['bucket', 'user_id', 'status_code']);
    expect(users.columns.slice(1, 7).map((c) => [c.name, c.type, c.notNull])).toEqual([
      ['user_id', 'text', false],
      ['status_code', 'bigint', true],
      ['requests', 'bigint', true],
      ['bytes', 'bigint', true],
      ['fastest_ms', 'double precision', false],
      ['slowest_ms', 'double precision', false],
    ]);
  });

  it('refuses a view whose names collide with the columns Tandem adds', () => {
    const view = defineView(
      { name: 'clash', bucket: '1h', dimensions: ['endpoint'], measures: { run_id: { kind: 'count' } } },
      webStream,
    );
    expect(() => tableLayoutOf(createCatalog([webStream], [view]), view, 'tandem')).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_VIEW_INVALID',
        message: expect.stringContaining('"run_id"'),
      }),
    );
  });
});

describe('export configuration', () => {
  it('reads EXPORT_POSTGRES_URL and _SCHEMA, and never echoes a password', () => {
    expect(loadConfig({}).exportPostgres).toEqual({ url: null, schema: 'tandem' });
    expect(
      loadConfig({ EXPORT_POSTGRES_URL: 'postgres://u:p@db:5432/x', EXPORT_POSTGRES_SCHEMA: 'bi' })
        .exportPostgres,
    ).toEqual({ url: 'postgres://u:p@db:5432/x', schema: 'bi' });
    expect(() => loadConfig({ EXPORT_POSTGRES_URL: 'mysql://u:hunter2@db/x' })).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_CONFIG_INVALID',
        message: expect.not.stringContaining('hunter2'),
      }),
    );
    expect(redactUrl('postgres://tandem:s3cret@127.0.0.1:5432/tandem')).toBe(
      'postgres://tandem:***@127.0.0.1:5432/tandem',
    );
    expect(() => resolveExportOptions({ url: 'postgres://h/db', schema: 'Bad-Name' })).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CONFIG_INVALID' }),
    );
    expect(() => resolveExportOptions({ url: 'postgres://h/db', maxAttempts: 0 })).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CONFIG_INVALID' }),
    );
  });
});
