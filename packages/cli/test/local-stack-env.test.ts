// The `tandem` command fills in the local stack's S3 endpoint and credentials only when the local
// stack is what it talks to (scripts/lib.sh, use_local_stack_s3): never over a caller's own S3
// endpoint or AWS credentials of any kind (so a deployment's IAM role works through the SDK's default
// chain), and not when no local S3 answers. The developer scripts keep their local-stack defaults.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const lib = join(repoRoot, 'scripts/lib.sh');
const AWS_VARIABLES = [
  'S3_ENDPOINT',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

/** The S3 variables a `tandem` process (or a script) would see, given the caller's environment. */
function s3Env(caller: Record<string, string>, asCli: boolean): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  const script = asCli ? `TANDEM_CLI=1 source ${lib}; use_local_stack_s3; env` : `source ${lib}; env`;
  const result = spawnSync('bash', ['-c', script], { env: { ...env, ...caller }, encoding: 'utf8' });
  expect(result.status).toBe(0);
  const seen: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    if (AWS_VARIABLES.includes(name)) seen[name] = line.slice(eq + 1);
  }
  return seen;
}

describe('the local stack’s S3 settings', () => {
  let server: Server;
  let localS3: string;

  beforeAll(async () => {
    // Something answering where the local stack's S3 would (its own port, not the shared stack's).
    server = createServer((socket) => socket.end());
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address();
    localS3 = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('are filled in for `tandem` when the local stack answers and the caller brought none', () => {
    expect(s3Env({ TANDEM_LOCAL_S3_ENDPOINT: localS3 }, true)).toEqual({
      S3_ENDPOINT: localS3,
      AWS_ACCESS_KEY_ID: 'tandem',
      AWS_SECRET_ACCESS_KEY: 'tandemsecret',
    });
  });

  it.each([
    ['an AWS profile', { AWS_PROFILE: 'prod' }],
    ['a web identity (EKS)', { AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/token' }],
    ['a container role (ECS)', { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }],
    ['keys of its own', { AWS_ACCESS_KEY_ID: 'AKIAREAL', AWS_SECRET_ACCESS_KEY: 'real' }],
    ['an S3 endpoint of its own', { S3_ENDPOINT: 'https://minio.internal:9000' }],
  ])('are never filled in for `tandem` over %s', (_what, own) => {
    expect(s3Env({ TANDEM_LOCAL_S3_ENDPOINT: localS3, ...own }, true)).toEqual(own);
  });

  it('are not filled in for `tandem` when no local S3 answers (a deployment: the default chain applies)', () => {
    const closed = localS3.replace(/:\d+$/, ':1');
    expect(s3Env({ TANDEM_LOCAL_S3_ENDPOINT: closed }, true)).toEqual({});
  });

  it('stay the defaults of the developer scripts, which are the local stack by definition', () => {
    expect(s3Env({ TANDEM_LOCAL_S3_ENDPOINT: localS3 }, false)).toEqual({
      S3_ENDPOINT: localS3,
      AWS_ACCESS_KEY_ID: 'tandem',
      AWS_SECRET_ACCESS_KEY: 'tandemsecret',
    });
  });
});
