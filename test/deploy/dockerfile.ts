// Reads the repository's Dockerfile the way the deploy tests need it: the final stage's user,
// working directory, ENTRYPOINT and CMD (exec form), and the files it writes from heredocs. No
// Docker exists where the tests run, so `localEntrypoint` rebuilds the image's entry point on this
// machine: the heredoc files go to a temporary bin directory with the image's app directory mapped
// to the repository root (the image's /app is the build context, which the test asserts).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Instruction {
  keyword: string;
  /** The instruction's arguments, continuation lines joined. */
  args: string;
  /** The body of a heredoc (`<<EOF` … `EOF`), if the instruction has one. */
  heredoc: string | null;
  line: number;
}

/** The instructions of a Dockerfile, in order (comments and parser directives dropped). */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (first.trim() === '' || first.trimStart().startsWith('#')) continue;
    const line = i + 1;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (next.trimStart().startsWith('#')) continue;
      joined = `${joined.slice(0, -1)} ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(joined);
    if (!match) throw new Error(`Dockerfile line ${line}: cannot read "${joined}"`);
    const [, keyword, args] = match as unknown as [string, string, string];
    let heredoc: string | null = null;
    const marker = /<<-?(['"]?)([A-Za-z_]+)\1/.exec(args);
    if (marker) {
      const end = marker[2]!;
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1] !== end) body.push(lines[++i]!);
      if (i + 1 >= lines.length) throw new Error(`Dockerfile line ${line}: heredoc ${end} never ends`);
      i++;
      heredoc = `${body.join('\n')}\n`;
    }
    instructions.push({ keyword: keyword.toUpperCase(), args: args.trim(), heredoc, line });
  }
  return instructions;
}

export interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

/** Splits instructions into build stages (everything after each FROM). */
export function stages(instructions: readonly Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(/\s+/);
      out.push({ from: from!, name: as?.toUpperCase() === 'AS' ? name! : null, instructions: [] });
    } else if (out.length > 0) {
      out.at(-1)!.instructions.push(instruction);
    }
  }
  return out;
}

/** The exec-form (JSON array) arguments of an instruction; shell form is refused. */
export function execForm(instruction: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(instruction.args);
  } catch {
    throw new Error(
      `Dockerfile line ${instruction.line}: ${instruction.keyword} must use the exec form (a JSON array), ` +
        'so the process is PID 1 and receives SIGTERM itself',
    );
  }
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} is not an array of strings`);
  }
  return parsed;
}

/** What the image runs: its final stage's settings. */
export interface Image {
  stages: Stage[];
  user: string | null;
  workdir: string | null;
  entrypoint: string[];
  cmd: string[];
  /** Files the final stage writes from heredocs, by path in the image, with their mode if given. */
  files: Map<string, { text: string; mode: string | null }>;
}

export function readImage(dockerfile: string): Image {
  const all = stages(parseDockerfile(readFileSync(dockerfile, 'utf8')));
  const final = all.at(-1);
  if (!final) throw new Error(`${dockerfile} has no FROM`);
  const last = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).at(-1) ?? null;
  const files = new Map<string, { text: string; mode: string | null }>();
  for (const instruction of final.instructions) {
    if (instruction.keyword !== 'COPY' || instruction.heredoc === null) continue;
    const target = instruction.args.split(/\s+/).at(-1)!;
    const mode = /--chmod=(\d+)/.exec(instruction.args)?.[1] ?? null;
    files.set(target, { text: instruction.heredoc, mode });
  }
  const entrypoint = last('ENTRYPOINT');
  const cmd = last('CMD');
  return {
    stages: all,
    user: last('USER')?.args ?? null,
    workdir: last('WORKDIR')?.args ?? null,
    entrypoint: entrypoint ? execForm(entrypoint) : [],
    cmd: cmd ? execForm(cmd) : [],
    files,
  };
}

/** Directories the image's PATH searches for the entry point's command (the Node images' PATH). */
const imagePath = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface LocalEntrypoint {
  /** The entry point's argv on this machine (heredoc files rewritten to the repository). */
  argv: string[];
  /** PATH for it: the rewritten files first, then this machine's Node 24 and system tools. */
  path: string;
}

/**
 * The image's ENTRYPOINT as a command line for this machine: a command the image writes itself
 * (a heredoc file on the image's PATH) is written to a temporary directory with `appDir/` replaced
 * by `repoRoot/` in its text.
 */
export function localEntrypoint(image: Image, appDir: string, repoRoot: string): LocalEntrypoint {
  if (image.entrypoint.length === 0) throw new Error('the Dockerfile declares no ENTRYPOINT');
  const bin = mkdtempSync(join(tmpdir(), 'tandem-entrypoint-'));
  const rewrite = (text: string) => text.split(`${appDir}/`).join(`${repoRoot}/`);
  const [command, ...rest] = image.entrypoint as [string, ...string[]];
  let resolved = command;
  const candidates = command.includes('/') ? [command] : imagePath.map((dir) => `${dir}/${command}`);
  const written = candidates.map((path) => ({ path, file: image.files.get(path) })).find((c) => c.file);
  if (written?.file) {
    resolved = join(bin, command.split('/').at(-1)!);
    writeFileSync(resolved, rewrite(written.file.text));
    chmodSync(resolved, Number.parseInt(written.file.mode ?? '755', 8));
  } else if (command.startsWith(`${appDir}/`)) {
    resolved = rewrite(command);
  }
  return {
    argv: [resolved, ...rest.map(rewrite)],
    path: [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the entry point with `args` in a clean environment (only PATH and HOME), as a container would. */
export function runEntrypoint(entry: LocalEntrypoint, args: readonly string[], cwd: string): Promise<Run> {
  const [command, ...rest] = entry.argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...rest, ...args], {
      cwd,
      env: { PATH: entry.path, HOME: tmpdir(), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
