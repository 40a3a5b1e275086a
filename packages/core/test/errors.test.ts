import { describe, expect, it } from 'vitest';
import { TandemError, isRetryable } from '../src/errors.ts';

describe('isRetryable', () => {
  it('retries only when every Tandem error in the chain is retryable', () => {
    const inner = new TandemError('TANDEM_ERR_LAKE_IO', 'io', {
      retryable: true,
      cause: new Error('ECONNRESET'),
    });
    expect(
      isRetryable(new TandemError('TANDEM_ERR_BATCH_RUN_FAILED', 'run', { retryable: true, cause: inner })),
    ).toBe(true);
    expect(
      isRetryable(new TandemError('TANDEM_ERR_BATCH_RUN_FAILED', 'run', { retryable: false, cause: inner })),
    ).toBe(false);
    const fatalInner = new TandemError('TANDEM_ERR_VIEW_INVALID', 'bad view');
    expect(
      isRetryable(
        new TandemError('TANDEM_ERR_BATCH_RUN_FAILED', 'run', { retryable: true, cause: fatalInner }),
      ),
    ).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });
});
