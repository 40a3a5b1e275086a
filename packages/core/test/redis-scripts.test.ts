// The one Lua script loader: the key count is read from the file name, the command name carries the
// version and a digest of the text, and a script without its header or a badly named file is
// refused. Defining and running the commands on a real Redis is tested where the scripts live
// (packages/speed/test/scripts.test.ts, batch's lease tests).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { redisScript } from '../src/redis-scripts.ts';

const header = '--[[\n  KEYS[1] a key\n  Output: 1\n]]\nreturn 1\n';
const sha10 = (text: string) => createHash('sha1').update(text).digest('hex').slice(0, 10);

describe('redisScript', () => {
  it('reads the key count from -<N>.lua, and none from -n.lua', () => {
    expect(redisScript('tandemX', 2, 'claim-partition-1.lua', header)).toEqual({
      file: 'claim-partition-1.lua',
      commandName: `tandemX_claimPartition_v2_${sha10(header)}`,
      lua: header,
      numberOfKeys: 1,
    });
    expect(redisScript('tandemX', 1, 'acquire-lease-12.lua', header).numberOfKeys).toBe(12);
    expect(redisScript('tandemX', 1, 'apply-batch-n.lua', header).numberOfKeys).toBeUndefined();
    expect(redisScript('tandemX', 1, 'apply-batch-n.lua', header).commandName).toBe(
      `tandemX_applyBatch_v1_${sha10(header)}`,
    );
  });

  it('names a changed text or version differently, so a stale definition never runs', () => {
    const a = redisScript('tandemX', 1, 'renew-lease-1.lua', header).commandName;
    expect(redisScript('tandemX', 1, 'renew-lease-1.lua', `${header}\n`).commandName).not.toBe(a);
    expect(redisScript('tandemX', 2, 'renew-lease-1.lua', header).commandName).not.toBe(a);
  });

  it('refuses a file name without a key count, and a script without its header', () => {
    for (const file of ['claim-partition.lua', 'claimPartition-1.lua', 'claim-partition-1.txt', '-1.lua']) {
      expect(() => redisScript('tandemX', 1, file, header)).toThrow(
        /is not named <kebab-case-name>-<key count>\.lua/,
      );
    }
    expect(() => redisScript('tandemX', 1, 'claim-partition-1.lua', 'return 1\n')).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_INTERNAL', message: expect.stringContaining('header') }),
    );
  });
});
