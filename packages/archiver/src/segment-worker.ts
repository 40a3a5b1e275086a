// Worker-thread entry of the archiver's SegmentBuilder: answers each request in order, handing the
// NDJSON buffers back without copying them.
import { parentPort, workerData } from 'node:worker_threads';
import {
  type BuilderRequest,
  SegmentBuilder,
  type SegmentBuilderOptions,
  transferablesOf,
} from './segment-builder.ts';

const builder = new SegmentBuilder(workerData as SegmentBuilderOptions);
parentPort!.on('message', (request: BuilderRequest) => {
  const response = builder.handle(request);
  parentPort!.postMessage(response, transferablesOf(response));
});
