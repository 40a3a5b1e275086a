// A bound on how long a caller waits for work it can not cancel (a kafkajs admin request riding
// its retry loop, a probe of a dependency that hangs): the caller moves on with a coded error,
// the work finishes or fails on its own, and its late failure is never an unhandled rejection.
import { TandemError } from './errors.ts';

/** Resolves or rejects as `promise` does, or rejects with `TANDEM_ERR_TIMEOUT` after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TandemError('TANDEM_ERR_TIMEOUT', `${what} did not answer within ${ms} ms`, {
            retryable: true,
            details: { timeoutMs: ms },
          }),
        ),
      ms,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Whether `error` is the deadline of `withDeadline`. */
export function isDeadlineExceeded(error: unknown): boolean {
  return error instanceof TandemError && error.code === 'TANDEM_ERR_TIMEOUT';
}
