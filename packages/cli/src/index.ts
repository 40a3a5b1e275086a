// Public face of @tandem/cli: the traffic generator (for tests and benchmarks: events plus the truth
// of what each layer must count), its Kafka and lake writers, and the command as a function.
export { runCli } from './cli.ts';
export { sendTrafficToKafka, type KafkaSendOptions } from './generate/kafka-sender.ts';
export { writeTrafficToLake, type LakeWriteOptions, type LakeWriteResult } from './generate/lake-writer.ts';
export { makePoison, type PoisonKind, poisonExpectedCode, poisonKinds } from './generate/poison.ts';
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
