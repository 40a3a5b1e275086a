// Graceful stop on SIGINT/SIGTERM: the first signal aborts the command's AbortSignal, so long work
// stops at its next safe point (between hours, after the in-flight batch); a second one forces.
export interface Shutdown {
  signal: AbortSignal;
  /** The signal that started the shutdown, once one has. */
  readonly received: NodeJS.Signals | null;
  dispose(): void;
}

export function installShutdown(onFirst: (signal: NodeJS.Signals) => void): Shutdown {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const handler = (signal: NodeJS.Signals): void => {
    if (received !== null) {
      // The operator insists: exit now with the conventional 128 + signal number.
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    received = signal;
    onFirst(signal);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
