// Stopping on process signals (SIGTERM, SIGINT by default): each handler fires once.
import type { Logger } from 'pino';

/** Calls `stop` on the first of `signals`; returns a function that removes the handlers. */
export function stopOnSignals(
  signals: readonly NodeJS.Signals[],
  logger: Logger,
  stop: () => void,
): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const signal of signals) {
    const handler = (): void => {
      logger.info({ signal }, 'stopping the archiver');
      stop();
    };
    process.once(signal, handler);
    handlers.push([signal, handler]);
  }
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
}
