// Public face of @tandem/cli: the traffic generators — the web shop simulation and the schema-driven
// one for any stream — (for tests and benchmarks: events plus the truth of what each layer must
// count), their Kafka and lake writers, and the command as a function.
export { runCli } from './cli.ts';
export { type KafkaSendOptions, type SendableRecord, sendTrafficToKafka } from './generate/kafka-sender.ts';
export {
  type LakeRecord,
  type LakeWriteOptions,
  type LakeWriteResult,
  writeTrafficToLake,
} from './generate/lake-writer.ts';
export { makePoison, type PoisonKind, poisonExpectedCode, poisonKinds } from './generate/poison.ts';
export {
  canonicalEvent,
  defaultStreamTrafficOptions,
  eventIdentity,
  expectedStreamMessages,
  generateStreamTraffic,
  resolveStreamTrafficOptions,
  type StreamTrafficOptions,
  type StreamTrafficRecord,
} from './generate/stream-events.ts';
export {
  applicableBadKinds,
  type ExpectedRejection,
  type StreamBadKind,
  streamBadKinds,
  streamBadRule,
} from './generate/stream-poison.ts';
export { type StreamTrafficTruth, StreamTruthLedger, streamTruthEvents } from './generate/stream-truth.ts';
export {
  defaultTrafficOptions,
  diurnalFactor,
  expectedMessages,
  generateTraffic,
  resolveTrafficOptions,
  type TrafficLabel,
  type TrafficOptions,
  type TrafficRecord,
} from './generate/traffic.ts';
export {
  collectTruth,
  type TrafficTruth,
  type TruthLayer,
  TruthLedger,
  truthEvents,
} from './generate/truth.ts';
// Not exported: commands and wiring (the `tandem` command is their interface).
