// One pino logger for the components a `tandem` process runs, on stderr so stdout stays for
// results. Components name themselves through child loggers (`component: "speed"`).
import { pino, type Logger } from 'pino';
import type { TandemConfig } from '@tandem/core';

export function createLogger(config: TandemConfig, name = 'tandem'): Logger {
  return pino({ name, level: config.logLevel }, pino.destination({ fd: 2, sync: false }));
}
