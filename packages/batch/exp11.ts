import { openObjectStore, probeConditionalWrites } from '@tandem/lake';
const store = openObjectStore({
  url: 's3://tandem/probe-batch',
  s3: {
    endpoint: 'http://127.0.0.1:9000',
    accessKeyId: 'tandem',
    secretAccessKey: 'tandemsecret',
    forcePathStyle: true,
  },
});
console.log('native conditional writes:', await probeConditionalWrites(store));
const e = await store.put('probe-batch-x', 'a');
try {
  await store.put('probe-batch-x', 'b', { ifMatch: 'nope' });
  console.log('ifMatch ignored!');
} catch (err) {
  console.log('ifMatch enforced', (err as Error).message);
}
await store.put('probe-batch-x', 'c', { ifMatch: e.etag });
console.log('ifMatch with right etag ok');
await store.delete('probe-batch-x');
await store.close();
