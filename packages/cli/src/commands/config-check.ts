// `tandem config check [file]`: validates a config file offline and lists every problem with its
// code and JSON path (exit 1 on any, for CI), then, when asked, what it changes against what is
// deployed: another config file (--against) or the lake (--deployed).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fetchRegistryVersions } from '@tandem/connections';
import {
  builtinCatalog,
  type Catalog,
  isTandemError,
  type RegistryVersion,
  type SchemaRegistryConfig,
  viewsBrokenByWriter,
  writerFields,
} from '@tandem/core';
import { defineCommand, flag, option } from '../framework/command.ts';
import type { Output } from '../framework/output.ts';
import * as v from '../framework/values.ts';
import { findConfigFile, readConfigFile } from '../wiring/config-file.ts';
import { type CatalogDiff, diffAgainstLake, diffCatalogs } from './catalog-diff.ts';
import { type ConfigCheck, type ConfigProblem, checkConfigValue } from './config-problems.ts';

export interface ConfigCheckReport {
  /** The file checked; null: none was found, the built-in web config applies. */
  file: string | null;
  valid: boolean;
  problems: ConfigProblem[];
  /** Entries that could not be checked because of another problem. */
  unchecked: ConfigCheck['unchecked'];
  streams: string[];
  views: string[];
  /** Against another config file (--against). */
  against?: CatalogDiff;
  /** Against the lake (--deployed). */
  deployed?: CatalogDiff;
}

/**
 * Reads and checks one config file; a file that can not be read is one problem at its path, and so is
 * a registry that can not give the subjects its registry-backed streams name.
 */
async function checkFile(file: string, registry: SchemaRegistryConfig): Promise<ConfigCheck> {
  if (!existsSync(file)) {
    return {
      catalog: null,
      problems: [{ code: 'TANDEM_ERR_CONFIG_INVALID', path: file, message: 'the file does not exist' }],
      unchecked: [],
    };
  }
  let raw: unknown;
  try {
    raw = await readConfigFile(file);
  } catch (error) {
    if (!isTandemError(error)) throw error;
    const message = error.message.startsWith(`${file}: `)
      ? error.message.slice(file.length + 2)
      : error.message;
    return { catalog: null, problems: [{ code: error.code, path: file, message }], unchecked: [] };
  }
  let versions: Map<string, RegistryVersion[]>;
  try {
    versions = await fetchRegistryVersions(raw, registry);
  } catch (error) {
    if (!isTandemError(error)) throw error;
    return {
      catalog: null,
      problems: [{ code: error.code, path: file, message: error.message }],
      unchecked: [],
    };
  }
  const check = checkConfigValue(raw, versions);
  return check.catalog === null ? check : { ...check, ...registryEvolution(check.catalog) };
}

/**
 * A stream on an older version than its subject's latest (pinned, or fallen back because a view can
 * not read the latest): whether the latest gives every view the fields it reads. Each break is a
 * problem naming the view, the field and the version.
 */
function registryEvolution(catalog: Catalog): Pick<ConfigCheck, 'catalog' | 'problems'> {
  const problems: ConfigProblem[] = [];
  for (const [index, stream] of catalog.streams.entries()) {
    const latest = stream.registry?.writers.at(-1);
    if (latest === undefined || latest.version === stream.registry!.version) continue;
    let fields: ReturnType<typeof writerFields>;
    try {
      fields = writerFields(latest);
    } catch (error) {
      if (!isTandemError(error)) throw error;
      problems.push({ code: error.code, path: `$.streams[${index}].registry`, message: error.message });
      continue;
    }
    for (const problem of viewsBrokenByWriter(stream, fields, latest.version)) {
      problems.push({
        code: 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
        path: `$.streams[${index}].registry`,
        message: `${problem.message} (the stream ${stream.registry!.pinnedVersion === null ? 'falls back' : 'is pinned'} to version ${stream.registry!.version}; messages of version ${latest.version} are dead-lettered)`,
      });
    }
  }
  return { catalog: problems.length === 0 ? catalog : null, problems };
}

function printProblems(out: Output, label: string, check: ConfigCheck): void {
  const count = check.problems.length;
  out.line(`${label}: ${out.style(`${count} problem${count === 1 ? '' : 's'}`, 'red')}`);
  for (const problem of check.problems) {
    out.line(
      `  ${out.style(problem.path, 'bold')}: ${problem.message} ${out.style(`(${problem.code})`, 'dim')}`,
    );
  }
  for (const entry of check.unchecked) out.line(`  ${entry.path}: not checked; ${entry.reason}`);
}

const statusStyle = { new: 'green', removed: 'red', changed: 'yellow', unchanged: 'dim' } as const;

function printDiff(out: Output, title: string, diff: CatalogDiff): void {
  out.line();
  out.line(title);
  const status = (text: keyof typeof statusStyle) => out.style(text.padEnd(9), statusStyle[text]);
  for (const stream of diff.streams) {
    let detail = '';
    if (stream.status === 'changed') {
      detail = stream.changes
        .map((change) =>
          change === 'schema'
            ? `schema (fingerprint ${stream.deployedFingerprint} → ${stream.fingerprint})`
            : change,
        )
        .join(', ');
    } else if (stream.status === 'unchanged' || stream.status === 'removed') {
      detail = stream.deployedFingerprint ?? '';
    } else if (stream.status === 'new') {
      detail = stream.manifest === undefined && diff.against.includes('://') ? 'no archived data yet' : '';
    }
    out.line(`  stream ${stream.name.padEnd(20)} ${status(stream.status)} ${detail}`.trimEnd());
  }
  for (const view of diff.views) {
    let detail = '';
    if (view.status === 'changed') {
      detail = view.changes
        .map((change) =>
          change === 'version'
            ? `version (v${view.deployedVersions.join(', v')} → v${view.version})`
            : change,
        )
        .join(', ');
    } else if (view.status === 'unchanged') detail = `v${view.version}`;
    else if (view.status === 'removed') detail = `v${view.deployedVersions.join(', v')}`;
    out.line(`  view   ${view.name.padEnd(20)} ${status(view.status)} ${detail}`.trimEnd());
  }
  for (const warning of diff.warnings) out.warn(warning);
  for (const note of diff.notes) out.line(out.style(`  note: ${note}`, 'dim'));
}

export const configCheckCommand = defineCommand({
  path: ['config', 'check'],
  summary: 'validate a config file offline, and say what it changes against what is deployed',
  description:
    'Loads the config file (the argument; else TANDEM_CONFIG; else tandem.config.ts / .json in the working ' +
    'directory) and checks its streams and views as every component would at start, without touching ' +
    'Kafka, Redis or the lake. Every problem is printed with its error code and the JSON path of the ' +
    'offending entry ($.streams[1].schema.properties.site.pattern); entries that can not be checked ' +
    'because of another problem (the views of a bad stream) are listed too. Exit 0: valid; 1: a problem ' +
    '(or the file can not be read); so it can gate a CI pipeline.\n\n' +
    'What differs from what is deployed, per stream (new, removed, changed: schema i.e. fingerprint, ' +
    'topic, dlqTopic, lateTopic, lakePrefix; unchanged) and per view (new, removed, changed: which parts ' +
    'of its definition; unchanged):\n\n' +
    '--against <file> compares with another config file, typically the deployed one (e.g. ' +
    '`git show v1.4:tandem.config.ts > /tmp/deployed.ts`). It is exact, and warns when a view’s definition ' +
    'changed but its version did not (old and new states would mix).\n\n' +
    '--deployed compares with the lake at LAKE_URL: a stream’s deployed fingerprint is the `validator` of ' +
    'its newest archive manifest (<lakePrefix>/_manifests/…), and a view is deployed at the versions found ' +
    'under views/<name>/v<version>/ (a new version is built from scratch). The lake records no view ' +
    'definitions and no lake prefix of a stream that left the config, so this side sees versions, not ' +
    'definitions, and does not see removed streams; it lists views/ once. Differences never change ' +
    'the exit code.',
  options: {
    against: option(v.text('a config file (.ts, .mts, .js or .json)'), {
      description: 'compare with this config file, e.g. the one deployed',
      placeholder: 'file',
    }),
    deployed: flag('compare with what the lake (LAKE_URL) holds: manifest fingerprints, view versions'),
  },
  positionals: {
    name: 'file',
    description: 'the config file to check (default: TANDEM_CONFIG, or tandem.config.ts / .json here)',
    min: 0,
    max: 1,
  },
  reports: true,
  examples: [
    'tandem config check',
    'tandem config check examples/iot/tandem.config.ts',
    'git show main:tandem.config.ts > /tmp/deployed.ts && tandem config check --against /tmp/deployed.ts',
    'tandem config check --deployed --json | jq ".deployed.streams"',
  ],
  async run(context, options, positionals) {
    const out = context.out;
    const cwd = process.cwd();
    const file =
      positionals[0] !== undefined ? resolve(cwd, positionals[0]) : findConfigFile(context.env, cwd);
    const check: ConfigCheck =
      file === null
        ? (() => {
            const { topic, dlqTopic, lateTopic } = context.config().kafka;
            return { catalog: builtinCatalog({ topic, dlqTopic, lateTopic }), problems: [], unchecked: [] };
          })()
        : await checkFile(file, context.config().schemaRegistry);
    const catalog: Catalog | null = check.catalog;
    const report: ConfigCheckReport = {
      file,
      valid: catalog !== null,
      problems: check.problems,
      unchecked: check.unchecked,
      streams: catalog?.streams.map((stream) => stream.name) ?? [],
      views: catalog?.views.map((view) => view.name) ?? [],
    };
    const label = file ?? 'built-in web config (no TANDEM_CONFIG, no tandem.config.ts or .json here)';
    if (catalog === null) {
      printProblems(out, label, check);
      out.result(report);
      return 1;
    }
    out.line(
      `${label}: ${out.style('valid', 'green')} — ${report.streams.length} stream${report.streams.length === 1 ? '' : 's'} ` +
        `(${report.streams.join(', ')}), ${report.views.length} view${report.views.length === 1 ? '' : 's'}`,
    );
    let failed = false;
    if (options.against !== undefined) {
      const againstFile = resolve(cwd, options.against);
      const deployed = await checkFile(againstFile, context.config().schemaRegistry);
      if (deployed.catalog === null) {
        printProblems(out, `--against ${againstFile}`, deployed);
        out.error('the file to compare with is not a valid config; no comparison made');
        failed = true;
      } else {
        report.against = diffCatalogs(catalog, deployed.catalog, againstFile);
        printDiff(out, `against ${againstFile}:`, report.against);
      }
    }
    if (options.deployed) {
      const { openObjectStore } = await import('@tandem/lake');
      const store = openObjectStore(context.config().lake);
      try {
        report.deployed = await diffAgainstLake(catalog, store, context.now());
      } finally {
        await store.close();
      }
      printDiff(out, `against the lake ${report.deployed.against}:`, report.deployed);
    }
    if (options.against === undefined && !options.deployed) {
      out.info('not compared with a deployment; add --against <deployed config> or --deployed (the lake)');
    }
    out.result(report);
    return failed ? 1 : 0;
  },
});
