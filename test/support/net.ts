// A free local port for a server a test starts itself (a child `tandem`, a private redis-server).
import { createServer } from 'node:net';

/**
 * A port the OS just handed out and released. Another process could take it before the caller
 * binds it; on a test machine that race is rare enough, and the caller's start-up fails loudly if
 * it happens.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      // Resolved only once closed, so the caller's own bind cannot hit our socket.
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolvePort(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}
