// A stream a test hands to pino, and the JSON lines written to it, read back as objects: how tests
// check what a component logged (and that it logged nothing) without parsing stdout.
import { Writable } from 'node:stream';

export function logLines(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
