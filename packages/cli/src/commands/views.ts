// `tandem views`: the deployment's streams (topics, lake prefix, time and id fields, fingerprint) and
// the views over each (bucket, dimensions, measures, version), as the config file declares them —
// or the built-in web config when there is none. Offline: it reads the config, nothing else.
import { defineCommand, option } from '../framework/command.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { findConfigFile } from '../wiring/config-file.ts';
import { catalogInfo, describeMeasure, type StreamInfo } from './catalog-report.ts';

export interface ViewsReport {
  /** The config file the catalog came from; null: the built-in web config. */
  config: string | null;
  streams: StreamInfo[];
}

export const viewsCommand = defineCommand({
  path: ['views'],
  summary: 'the streams of the config and the views over each, with their versions',
  description:
    'Per stream: its Kafka topic, dead-letter and late topics, lake prefix, event-time field and encoding, ' +
    'event-id field and fingerprint (the name of its validation rules, which the archiver records in each ' +
    'file’s manifest). Under each stream, its views: bucket, dimensions, measures and version (the ' +
    'version the speed layer writes and the batch layer builds, under views/<name>/v<version>/ in the lake).\n\n' +
    'The config is TANDEM_CONFIG, or tandem.config.ts / .json in the working directory, or else the built-in ' +
    'web config (the events stream and its three views). --json gives the same as data, with each ' +
    'stream’s fields and each measure’s options.',
  options: {
    stream: option(v.text('a stream of the config'), {
      description: 'only this stream and its views',
      placeholder: 'stream',
      defaultText: 'every stream',
    }),
  },
  reports: true,
  examples: [
    'tandem views',
    'TANDEM_CONFIG=examples/iot/tandem.config.ts tandem views --stream iot',
    'tandem views --json | jq -r ".streams[].views[].name"',
  ],
  async run(context, options) {
    const catalog = await context.catalog();
    let streams = catalogInfo(catalog);
    if (options.stream !== undefined) {
      streams = streams.filter((stream) => stream.name === options.stream);
      if (streams.length === 0) {
        throw usageError(
          `--stream "${options.stream}" is not a stream of the config; expected one of ${catalog.streams
            .map((stream) => stream.name)
            .join(', ')}`,
          { flag: '--stream' },
        );
      }
    }
    const report: ViewsReport = { config: findConfigFile(context.env, process.cwd()), streams };
    const out = context.out;
    out.line(
      report.config === null
        ? 'config: built-in (the web stream; no TANDEM_CONFIG, no tandem.config.ts or .json here)'
        : `config: ${report.config}`,
    );
    for (const stream of streams) {
      out.line();
      out.line(`${out.style('stream', 'dim')} ${out.style(stream.name, 'bold')}`);
      out.line(`  topic ${stream.topic}   dead letters ${stream.dlqTopic}   late ${stream.lateTopic}`);
      out.line(`  lake prefix   ${stream.lakePrefix}/`);
      out.line(
        `  event time    ${stream.timeField} (${stream.timeEncoding})   event id ${stream.idField ?? '— (dedup by every field)'}`,
      );
      out.line(`  fingerprint   ${stream.fingerprint}`);
      out.line(`  fields        ${stream.fields.map((field) => field.name).join(', ')}`);
      if (stream.views.length === 0) {
        out.line('  no views');
        continue;
      }
      out.line();
      const rows = stream.views.map((view) => ({
        view: view.name,
        bucket: view.sessionize === null ? view.bucket : `${view.bucket}, sessions by ${view.sessionize.by}`,
        dimensions: view.dimensions.length === 0 ? '—' : view.dimensions.join(', '),
        measures: view.measures.map(describeMeasure).join(', '),
        // Issue 17 adds versions being built beside the one served; they go in this column.
        version: `v${view.version}`,
        fingerprint: view.fingerprint,
      }));
      const indent = (text: string) => `  ${text}`;
      out.table(rows, [
        { header: indent('view'), cell: (row) => indent(row.view) },
        { header: 'bucket', cell: (row) => row.bucket },
        { header: 'dimensions', cell: (row) => row.dimensions },
        { header: 'version', cell: (row) => row.version },
        { header: 'fingerprint', cell: (row) => row.fingerprint },
        { header: 'measures', cell: (row) => row.measures },
      ]);
    }
    out.result(report);
    return 0;
  },
});
