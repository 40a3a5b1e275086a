// Every `tandem` subcommand, in the order `tandem --help` lists them.
import type { AnyCommand } from '../framework/parse.ts';
import { generateCommand } from './generate.ts';

export const commands: AnyCommand[] = [generateCommand];
