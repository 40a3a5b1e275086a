// Stream schemas the SQL compiler could not stage are refused at load, naming the JSON path.
import { describe, expect, it } from 'vitest';
import { TandemError } from '../src/errors.ts';
import { normalizeStreamSchema } from '../src/stream-schema.ts';

function refusal(properties: Record<string, unknown>): TandemError {
  try {
    normalizeStreamSchema({ type: 'object', properties }, 'streams[0].schema');
  } catch (error) {
    expect(error).toBeInstanceOf(TandemError);
    return error as TandemError;
  }
  throw new Error('the schema was accepted');
}

describe('normalizeStreamSchema', () => {
  it('refuses field names that differ only in case (SQL column names ignore case)', () => {
    const error = refusal({ site: { type: 'string' }, Site: { type: 'string' } });
    expect(error.code).toBe('TANDEM_ERR_CONFIG_INVALID');
    expect(error.message).toBe(
      'streams[0].schema.properties.Site: field names "site" and "Site" differ only in case; SQL column names ignore case, so rename one',
    );
  });

  it("refuses the staging SQL's own column names", () => {
    for (const name of ['line', 'LINE', 'canonical', 'error_code', 'error_field', 'error_rule']) {
      const error = refusal({ [name]: { type: 'string' } });
      expect(error.message).toContain(
        `streams[0].schema.properties.${name}: field name "${name}" is reserved`,
      );
    }
    expect(
      normalizeStreamSchema({ properties: { lines: { type: 'string' } } }, 's').map((f) => f.name),
    ).toEqual(['lines']);
  });
});
