// `--help` text: what a command does, its flags with accepted values and defaults, and examples
// that work when pasted.
import type { AnyOptionSpec } from './command.ts';
import type { AnyCommand } from './parse.ts';

function flagLabel(name: string, spec: AnyOptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : '    ';
  if (spec.value && spec.implicitValue !== undefined) return `${short}--${name} [<${spec.placeholder}>]`;
  return `${short}--${name}${spec.value ? ` <${spec.placeholder}>` : ''}`;
}

function wrap(text: string, width: number, indent: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** One-line usage: `tandem batch run --view <view> --hour <hour> [--json]`. */
export function usageLine(command: AnyCommand): string {
  const parts = ['tandem', ...command.path];
  for (const [name, spec] of Object.entries(command.options as Record<string, AnyOptionSpec>)) {
    const text =
      spec.value && spec.implicitValue !== undefined
        ? `--${name} [<${spec.placeholder}>]`
        : `--${name}${spec.value ? ` <${spec.placeholder}>` : ''}`;
    parts.push(spec.required ? text : `[${text}]`);
  }
  if (command.positionals) {
    const { name, min } = command.positionals;
    parts.push(min > 0 ? `<${name}>` : `[<${name}>]`);
  }
  if (command.reports) parts.push('[--json]');
  return parts.join(' ');
}

export function commandHelp(command: AnyCommand, width = 100): string {
  const lines: string[] = [];
  lines.push(`tandem ${command.path.join(' ')} — ${command.summary}`, '');
  lines.push(`Usage: ${usageLine(command)}`, '');
  if (command.description) {
    for (const paragraph of command.description.split('\n\n')) lines.push(wrap(paragraph, width, 0), '');
  }
  const rows: Array<[string, string]> = [];
  if (command.positionals) rows.push([`<${command.positionals.name}>`, command.positionals.description]);
  for (const [name, spec] of Object.entries(command.options as Record<string, AnyOptionSpec>)) {
    let text = spec.description;
    if (spec.value) text += `; ${spec.value.accepted}`;
    if (spec.implicitText !== undefined) text += `; alone: ${spec.implicitText}`;
    if (spec.required) text += ' (required)';
    else if (spec.defaultText !== null) text += ` (default: ${spec.defaultText})`;
    rows.push([flagLabel(name, spec), text]);
  }
  if (command.reports) rows.push(['    --json', 'print the result as one JSON document on stdout']);
  rows.push(['-h, --help', 'show this help']);
  const labelWidth = Math.min(30, Math.max(...rows.map(([label]) => label.length)));
  lines.push('Options:');
  for (const [label, text] of rows) {
    const gap =
      label.length > labelWidth
        ? `\n${' '.repeat(labelWidth + 4)}`
        : ' '.repeat(labelWidth - label.length + 2);
    lines.push(`  ${label}${gap}${wrap(text, width, labelWidth + 4)}`);
  }
  if (command.examples.length > 0) {
    lines.push('', 'Examples:');
    for (const example of command.examples) lines.push(`  ${example}`);
  }
  lines.push('', 'Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted.');
  return `${lines.join('\n')}\n`;
}

/** Help for `tandem`, or for a group like `tandem batch`: the commands below it. */
export function groupHelp(commands: AnyCommand[], path: string[]): string {
  const below = commands.filter((command) => path.every((word, i) => command.path[i] === word));
  const lines: string[] = [];
  if (path.length === 0) {
    lines.push(
      'tandem — run and operate Tandem, the Lambda-architecture analytics platform',
      '',
      'Usage: tandem <command> [flags]     tandem <command> --help for its flags and examples',
      '',
    );
  } else {
    lines.push(`tandem ${path.join(' ')} — commands:`, '');
  }
  const sections: Array<[string, (command: AnyCommand) => boolean]> = [
    [
      'Run components',
      (c) =>
        ['serve', 'speed', 'archiver', 'up'].includes(c.path[0]!) || c.path.join(' ') === 'batch schedule',
    ],
    [
      'Operate',
      (c) =>
        !['serve', 'speed', 'archiver', 'up', 'generate'].includes(c.path[0]!) &&
        c.path.join(' ') !== 'batch schedule',
    ],
    ['Traffic', (c) => c.path[0] === 'generate'],
  ];
  const width = Math.max(...below.map((command) => command.path.join(' ').length));
  for (const [title, belongs] of sections) {
    const members = below.filter(belongs);
    if (members.length === 0) continue;
    if (path.length === 0) lines.push(`${title}:`);
    for (const command of members) {
      const name = command.path.join(' ');
      lines.push(`  ${name.padEnd(width)}  ${command.summary}`);
    }
    lines.push('');
  }
  if (path.length === 0) {
    lines.push(
      'Configuration comes from the environment (KAFKA_BROKERS, REDIS_URL, REDIS_PREFIX, LAKE_URL, PORT, …);',
      'see docs/contracts.md. Times are UTC: 2025-01-31T14, 2025-01-31T14:30Z, epoch ms, now, or -3h.',
      '',
      'Examples:',
      '  tandem up                                   # every component in one process',
      '  tandem status                               # what is sealed, live, late and dead-lettered',
      '  tandem recompute --view endpoint_hourly --from -6h --to now --dry-run',
      '  tandem generate --rate 200 --duration 10m --late 1% --duplicates 1% --bad 1%',
      '',
      'Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted.',
    );
  }
  return `${lines.join('\n')}\n`;
}
