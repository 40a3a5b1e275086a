// Public face of @tandem/core: events, views, measures, both compilers, time helpers, errors, and
// the contracts between the layers (layer-readers.ts).
// No I/O anywhere in this package. Left out on purpose: accumulators.ts, the reducer's internal
// fast path (use compileReducer).
export * from './builtin-views.ts';
export * from './catalog.ts';
export * from './config.ts';
export * from './deadline.ts';
export * from './errors.ts';
export * from './option-error.ts';
export * from './event-rules.ts';
export * from './event-staging-sql.ts';
export * from './events.ts';
export * from './fields.ts';
export * from './filter.ts';
export * from './layer-readers.ts';
export * from './ops-contracts.ts';
export * from './measures.ts';
export * from './reducer.ts';
export * from './redis-scripts.ts';
export * from './registry-schema.ts';
export * from './registry-stream.ts';
export * from './sessionizer.ts';
export * from './sketches/ddsketch.ts';
export * from './sketches/hll.ts';
export * from './sql.ts';
export * from './stream.ts';
export * from './stream-schema.ts';
export * from './stream-staging-sql.ts';
export * from './stream-validator.ts';
export * from './time.ts';
export * from './time-expression.ts';
export * from './types.ts';
export * from './view.ts';
export * from './view-fields.ts';
export * from './view-fingerprint.ts';
export * from './view-sql.ts';
export * from './web-stream.ts';
