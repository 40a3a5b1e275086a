// Every `tandem` subcommand, in the order `tandem --help` lists them.
import type { AnyCommand } from '../framework/parse.ts';
import { backfillCommand, batchRunCommand, recomputeCommand } from './batch-ops.ts';
import { configCheckCommand } from './config-check.ts';
import { dlqListCommand, dlqReplayCommand, dlqShowCommand } from './dlq.ts';
import { exportCommand } from './export.ts';
import { generateCommand } from './generate.ts';
import { replayCommand } from './replay.ts';
import { archiverCommand, batchScheduleCommand, serveCommand, speedCommand, upCommand } from './run.ts';
import { schemaCheckCommand } from './schema-check.ts';
import { statusCommand } from './status.ts';
import { verifyCommand } from './verify.ts';
import { viewRollbackCommand, viewSwitchCommand, viewVersionsCommand } from './view-versions.ts';
import { viewsCommand } from './views.ts';

export const commands: AnyCommand[] = [
  upCommand,
  serveCommand,
  speedCommand,
  archiverCommand,
  batchScheduleCommand,
  statusCommand,
  viewsCommand,
  viewVersionsCommand,
  viewSwitchCommand,
  viewRollbackCommand,
  configCheckCommand,
  schemaCheckCommand,
  batchRunCommand,
  recomputeCommand,
  backfillCommand,
  exportCommand,
  verifyCommand,
  replayCommand,
  dlqListCommand,
  dlqShowCommand,
  dlqReplayCommand,
  generateCommand,
];
