// `tandem views versions`, `tandem views switch` and `tandem views rollback`: a view's versions as
// the batch layer's generation registry records them (which serves, which is being built and how
// far it got, which is kept for rollback), and the operator's moves of the active pointer. A switch
// is one compare-and-set in Redis that every serving process observes on its next query.
import type { TandemError } from '@tandem/core';
import { type CommandContext, defineCommand, required } from '../framework/command.ts';
import type { BatchOps } from '../wiring/batch.ts';
import { formatTime } from '../framework/time.ts';
import { usageError } from '../framework/usage-error.ts';
import * as v from '../framework/values.ts';
import { withPlatform } from './batch-ops.ts';
import { resolveView, viewValue } from './catalog-args.ts';

const versionValue = v.text('a version, v<n> (see `tandem views versions`)');

function versionNumber(text: string): number {
  const match = /^v?([1-9][0-9]{0,8})$/.exec(text);
  if (match === null) {
    throw usageError(`--to "${text}" is not a version; write v<n>, e.g. v2 (see \`tandem views versions\`)`, {
      flag: '--to',
    });
  }
  return Number(match[1]);
}

export const viewVersionsCommand = defineCommand({
  path: ['views', 'versions'],
  summary: "a view's versions: which serves, which is being built (hours done of needed), which is kept",
  description:
    'Reads the generation registry in Redis (registering the config’s definition first, as the batch ' +
    'scheduler does): every version with its fingerprint, state (active, building, previous, retired) and ' +
    'since when, and for the version being built the hours of its history published so far.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
  },
  reports: true,
  examples: [
    'tandem views versions --view endpoint_hourly',
    'tandem views versions --view endpoint_hourly --json',
  ],
  async run(context, options) {
    const view = resolveView(await context.catalog(), options.view);
    return withPlatform(context, async (platform) => {
      const { layer } = await platform.batch();
      const progress = await layer.generations.progress(view.name);
      const { GenerationRegistry } = await import('@tandem/batch');
      const list = await new GenerationRegistry(layer.redis, layer.options.redisPrefix).list(view.name);
      const out = context.out;
      out.table(
        list.generations.map((gen) => ({
          version: `v${gen.n}`,
          state: gen.state,
          since: formatTime(gen.since),
          fingerprint: gen.fingerprint,
          hours:
            gen.n === progress.building || (progress.building === null && gen.n === progress.active)
              ? `${progress.hoursDone}/${progress.hoursNeeded}`
              : '',
        })),
        [
          { header: 'version', cell: (row) => row.version },
          { header: 'state', cell: (row) => row.state },
          { header: 'since', cell: (row) => row.since },
          { header: 'fingerprint', cell: (row) => row.fingerprint },
          { header: 'hours', cell: (row) => row.hours },
        ],
      );
      out.result({ ...list, progress });
      return 0;
    });
  },
});

export const viewSwitchCommand = defineCommand({
  path: ['views', 'switch'],
  summary: 'serve another version of a view (compare-and-set on the active pointer)',
  description:
    'Moves the view’s active pointer to the version given. The version serving now becomes the previous ' +
    'one (kept for rollback); a retired version is refused (its data may be collected). Every serving ' +
    'process answers from the new version from its next query on.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
    to: required(versionValue, { description: 'the version to serve', placeholder: 'v<n>' }),
  },
  reports: true,
  examples: ['tandem views switch --view endpoint_hourly --to v2'],
  async run(context, options) {
    const view = resolveView(await context.catalog(), options.view);
    const to = versionNumber(options.to);
    return withPlatform(context, async (platform) =>
      switchVersion(context, await platform.batch(), view.name, to),
    );
  },
});

export const viewRollbackCommand = defineCommand({
  path: ['views', 'rollback'],
  summary: 'serve the previous version of a view again (while it is retained)',
  description:
    'Switches the view back to the version that served before the last switch, if it is still kept ' +
    '(state previous). The rollback stands: the scheduler does not switch forward again on its own.',
  options: {
    view: required(viewValue(), { description: 'the view', placeholder: 'view' }),
  },
  reports: true,
  examples: ['tandem views rollback --view endpoint_hourly'],
  async run(context, options) {
    const view = resolveView(await context.catalog(), options.view);
    return withPlatform(context, async (platform) => {
      const { layer } = await platform.batch();
      const { GenerationRegistry } = await import('@tandem/batch');
      const list = await new GenerationRegistry(layer.redis, layer.options.redisPrefix).list(view.name);
      const previous = list.generations.find((gen) => gen.state === 'previous');
      if (previous === undefined) {
        throw usageError(
          `view ${view.name} has no previous version to roll back to (versions: ${list.generations.map((gen) => `v${gen.n} ${gen.state}`).join(', ') || 'none'})`,
          { flag: '--view' },
        );
      }
      return switchVersion(context, await platform.batch(), view.name, previous.n);
    });
  },
});

async function switchVersion(
  context: CommandContext,
  batch: BatchOps,
  view: string,
  to: number,
): Promise<number> {
  try {
    const moved = await batch.layer.generations.switchTo(view, to);
    context.out.line(`${view}: serving v${moved.to} (was v${moved.from})`);
    context.out.result({ view, from: `v${moved.from}`, to: `v${moved.to}` });
    return 0;
  } catch (error) {
    if ((error as TandemError).code === 'TANDEM_ERR_VIEW_INVALID') {
      throw usageError((error as TandemError).message, { flag: '--to' });
    }
    throw error;
  }
}
