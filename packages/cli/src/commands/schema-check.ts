// `tandem schema check --subject S --file new.json`: before a producer registers a new version of a
// registry subject, whether it still gives every view over the streams on that subject the fields it
// reads (with compatible types), whether Tandem's schema subset can express it, and what the
// registry's own compatibility check says against the latest version. Exit 1 on any problem, so it
// can gate a producer's CI.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSchemaRegistryClient } from '@tandem/connections';
import {
  isTandemError,
  type SchemaIncompatibility,
  translateRegistrySchema,
  viewsBrokenByWriter,
} from '@tandem/core';
import { defineCommand, option, required } from '../framework/command.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';

export interface SchemaCheckReport {
  subject: string;
  file: string;
  schemaType: 'AVRO' | 'JSON';
  /** Streams of the config on the subject. */
  streams: string[];
  /** The version the candidate would become. */
  candidateVersion: number;
  /** Tandem's verdict: constructs it can not express, views it breaks. */
  problems: Array<{ code: string; message: string; view?: string; field?: string }>;
  /** The registry's verdict against the subject's latest version. */
  registry: { compatible: boolean; messages: string[] };
  ok: boolean;
}

export const schemaCheckCommand = defineCommand({
  path: ['schema', 'check'],
  summary: 'check a candidate schema version against the views and the registry, before registering it',
  description:
    'Reads a candidate schema (--file: an Avro schema or a JSON Schema document) for a registry subject ' +
    '(--subject) and checks it as Tandem would read its messages: the schema subset must express it, and every ' +
    'field each view over the streams on that subject reads must exist with a compatible type (a field the ' +
    'stream declares optional may be left out only by versions older than the stream’s). Then asks the ' +
    'registry (SCHEMA_REGISTRY_URL) whether the candidate is compatible with the subject’s latest version ' +
    'under its compatibility rule. Exit 0 when both agree it is safe; 1 otherwise, naming the view, the field ' +
    'and the version — so a producer’s CI can run it before registering.',
  options: {
    subject: required(v.text('a registry subject'), {
      description: 'the registry subject',
      placeholder: 'subject',
    }),
    file: required(v.text('a file'), {
      description: 'the candidate schema (.avsc / .json)',
      placeholder: 'file',
    }),
    type: option(v.oneOf(['avro', 'json'] as const), {
      description: 'the candidate’s schema type',
      placeholder: 'type',
      defaultText: 'the format of the streams on the subject, else avro for .avsc and json otherwise',
    }),
  },
  reports: true,
  examples: [
    'tandem schema check --subject orders-value --file schemas/order.avsc',
    'tandem schema check --subject visits-value --file visit.schema.json --json',
  ],
  async run(context, options) {
    const out = context.out;
    const file = resolve(process.cwd(), options.file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw usageError(`--file ${options.file} can not be read: ${(error as Error).message}`);
    }
    const catalog = await context.catalog();
    const streams = catalog.streams.filter((stream) => stream.registry?.subject === options.subject);
    const format = options.type ?? streams[0]?.registry?.format ?? (file.endsWith('.avsc') ? 'avro' : 'json');
    const schemaType = format === 'avro' ? 'AVRO' : 'JSON';
    const latest = Math.max(
      0,
      ...streams.flatMap((stream) => stream.registry!.writers.map((w) => w.version)),
    );
    const report: SchemaCheckReport = {
      subject: options.subject,
      file,
      schemaType,
      streams: streams.map((stream) => stream.name),
      candidateVersion: latest + 1,
      problems: [],
      registry: { compatible: true, messages: [] },
      ok: true,
    };
    try {
      const { fields } = translateRegistrySchema(
        { schemaType, schema: text },
        `${options.file} (candidate for "${options.subject}")`,
      );
      for (const stream of streams) {
        for (const problem of viewsBrokenByWriter(stream, fields, report.candidateVersion)) {
          report.problems.push(candidateProblem(problem, report.candidateVersion));
        }
      }
    } catch (error) {
      if (!isTandemError(error)) throw error;
      report.problems.push({ code: error.code, message: error.message });
    }
    const client = createSchemaRegistryClient(context.config().schemaRegistry);
    report.registry = await client.checkCompatibility(options.subject, schemaType, text);
    report.ok = report.problems.length === 0 && report.registry.compatible;

    const streamsText =
      streams.length === 0 ? 'no stream of the config reads it' : `streams ${report.streams.join(', ')}`;
    out.line(`${options.subject} candidate (would be version ${report.candidateVersion}; ${streamsText}):`);
    for (const problem of report.problems) {
      out.line(`  ${out.style('✗', 'red')} ${problem.message} ${out.style(`(${problem.code})`, 'dim')}`);
    }
    if (report.problems.length === 0) out.line(`  ${out.style('✓', 'green')} every view reads what it needs`);
    const verdict = report.registry.compatible
      ? out.style('✓ compatible', 'green')
      : out.style('✗ incompatible', 'red');
    out.line(
      `  registry: ${verdict} with the latest version${report.registry.messages.length > 0 ? ':' : ''}`,
    );
    for (const message of report.registry.messages) out.line(`    ${message}`);
    out.result(report);
    return report.ok ? 0 : 1;
  },
});

function candidateProblem(
  problem: SchemaIncompatibility,
  version: number,
): SchemaCheckReport['problems'][number] {
  return {
    code: 'TANDEM_ERR_EVENT_SCHEMA_INCOMPATIBLE',
    message: `${problem.message} (messages of it would be dead-lettered)`.replace(
      `version ${version} of`,
      `the candidate (version ${version}) of`,
    ),
    view: problem.view,
    field: problem.field,
  };
}
