// Public face of @tandem/core: config, errors, shared types, events, views, measures, compilers.
export * from './config.ts';
export * from './errors.ts';
export type * from './types.ts';
