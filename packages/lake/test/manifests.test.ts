// Archive manifests: where they live, and that only a well-formed manifest of the same file parses.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { archiveManifestKey, buildArchiveManifest, parseArchiveManifest } from '../src/manifests.ts';

const key = 'logs/dt=2024-03-01/hour=05/events+2+1234.json.gz';

describe('archive manifests', () => {
  it('live outside the partition tree, one per raw-log file', () => {
    expect(archiveManifestKey(key)).toBe('logs/_manifests/dt=2024-03-01/hour=05/events+2+1234.json.gz.json');
    expect(archiveManifestKey('logs/_watermarks/events+2.json')).toBeNull();
    expect(archiveManifestKey('views/x/dt=2024-03-01/hour=05/a.json.gz')).toBeNull();
  });

  it('record size and SHA-256 of the stored bytes, and parse back only for the same file', () => {
    const body = new TextEncoder().encode('gzip bytes stand-in');
    const manifest = buildArchiveManifest(key, body, 7, 'tandem-events/1', 65_536);
    expect(manifest).toEqual({
      version: 1,
      key,
      lines: 7,
      bytes: body.byteLength,
      sha256: createHash('sha256').update('gzip bytes stand-in').digest('hex'),
      validator: 'tandem-events/1',
      maxEventBytes: 65_536,
    });
    const text = JSON.stringify(manifest);
    expect(parseArchiveManifest(text, key)).toEqual(manifest);
    expect(parseArchiveManifest(text, 'logs/dt=2024-03-01/hour=05/other.json.gz')).toBeNull();
    for (const broken of [
      'not json',
      'null',
      JSON.stringify({ ...manifest, version: 2 }),
      JSON.stringify({ ...manifest, lines: -1 }),
      JSON.stringify({ ...manifest, lines: 1.5 }),
      JSON.stringify({ ...manifest, sha256: 'ABC' }),
      JSON.stringify({ ...manifest, validator: 1 }),
      JSON.stringify({ ...manifest, maxEventBytes: null }),
    ]) {
      expect(parseArchiveManifest(broken, key)).toBeNull();
    }
  });
});
