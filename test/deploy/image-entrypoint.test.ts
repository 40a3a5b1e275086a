// The image's entry point, without Docker: the exact ENTRYPOINT and CMD the Dockerfile declares,
// parsed from it, run on this machine with the image's /app mapped to the repository (the image's
// /app is the build context, asserted below). Each component's `--help` must work in a clean
// environment — no Kafka, Redis or lake settings — as in a fresh container.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localEntrypoint, readImage, runEntrypoint } from './dockerfile.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const image = readImage(join(repoRoot, 'Dockerfile'));
const final = image.stages.at(-1)!;
const build = image.stages.find((stage) => stage.name === 'build');

describe('the Dockerfile', () => {
  it('builds the repository into /app and runs it from there as a numeric non-root user', () => {
    expect(build).toBeDefined();
    const buildWorkdir = build!.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args);
    expect(buildWorkdir).toEqual(['/app']);
    // The whole build context lands in /app, and the final stage takes /app as it is: so a path
    // under /app in the image is the same path under the repository root here.
    expect(build!.instructions.some((i) => i.keyword === 'COPY' && i.args === '. .')).toBe(true);
    expect(final.instructions.some((i) => i.keyword === 'COPY' && i.args === '--from=build /app /app')).toBe(
      true,
    );
    expect(image.workdir).toBe('/app');
    // Numeric uid:gid, not 0: Kubernetes' runAsNonRoot can only verify a numeric user.
    expect(image.user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
  });

  it('takes Node 24 for both stages', () => {
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))?.[1];
    expect(arg).toMatch(/^node:24[-.]/);
    expect(image.stages.map((stage) => stage.from)).toHaveLength(2);
    for (const stage of image.stages) expect(stage.from).toMatch(/^\$\{NODE_IMAGE\}$/);
    // The tests run the entry point on the project's own Node, which is 24 too.
    expect(process.versions.node.split('.')[0]).toBe('24');
  });

  it('runs `tandem` with the Node flags packages/cli/bin/tandem uses', () => {
    expect(image.entrypoint).toEqual(['tandem']);
    expect(image.cmd).toEqual(['--help']);
    const script = image.files.get('/usr/local/bin/tandem');
    expect(script?.mode).toBe('0755');
    const flags = (text: string) => [...text.matchAll(/--disable-warning=\w+/g)].map((m) => m[0]).sort();
    const bin = readFileSync(join(repoRoot, 'packages/cli/bin/tandem'), 'utf8');
    expect(flags(script!.text)).toEqual(flags(bin));
    expect(flags(script!.text).length).toBeGreaterThan(0);
    // exec: node replaces the shell, so it is PID 1 and gets SIGTERM from the container runtime.
    expect(script!.text).toMatch(/^exec node .* \/app\/packages\/cli\/src\/main\.ts "\$@"$/m);
  });
});

describe('the entry point, run without Docker', () => {
  const entry = localEntrypoint(image, '/app', repoRoot);

  it('shows the command list for the default CMD', async () => {
    const run = await runEntrypoint(entry, image.cmd, repoRoot);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const command of ['serve', 'speed', 'archiver', 'batch schedule', 'status', 'config check']) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}${command} {2,}\\S`, 'm'));
    }
  });

  it.each([
    [['speed'], 'run speed-layer workers'],
    [['archiver'], 'run the archiver'],
    [['batch', 'schedule'], 'run the batch scheduler'],
    [['serve'], 'run the serving layer'],
  ])('`tandem %j --help` prints its help in a clean environment', async (component, summary) => {
    const run = await runEntrypoint(entry, [...component, '--help'], repoRoot);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`tandem ${component.join(' ')}`);
    expect(run.stdout).toContain(summary);
  });

  it('reports a usage error with exit code 2, not a crash', async () => {
    const run = await runEntrypoint(entry, ['speed', '--metrics-prot', '9464'], repoRoot);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown flag --metrics-prot');
    expect(run.stderr).toContain('did you mean --metrics-port?');
  });
});
