import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/server.js';

let root: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe('request duration metrics', () => {
  it('counts each request under its route pattern, method and status, unmatched paths as unmatched, in cumulative buckets', async () => {
    const { app } = await buildTestApp(root, ['--watch', 'off']);
    try {
      for (let i = 0; i < 3; i++) expect((await app.inject('/simple/')).statusCode).toBe(200);
      expect((await app.inject({ method: 'HEAD', url: '/simple/' })).statusCode).toBe(200);
      expect((await app.inject('/simple/no-such-project/')).statusCode).toBe(404);
      expect((await app.inject('/no/such/path')).statusCode).toBe(404);
      const text = (await app.inject('/metrics')).body;
      const count = (labels: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`wheelhouse_http_request_duration_seconds_count{${labels}}`));
        return line === undefined ? undefined : Number(line.split(' ').pop());
      };
      expect(count('method="GET",route="/simple/",status_code="200"')).toBe(3);
      expect(count('method="HEAD",route="/simple/",status_code="200"')).toBe(1);
      expect(count('method="GET",route="/simple/:project/",status_code="404"')).toBe(1);
      expect(count('method="GET",route="unmatched",status_code="404"')).toBe(1);
      const buckets = text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('wheelhouse_http_request_duration_seconds_bucket{') &&
            l.includes('method="GET",route="/simple/",status_code="200"'),
        )
        .map((l) => Number(l.split(' ').pop()));
      expect(buckets).toHaveLength(15);
      expect(buckets.at(-1)).toBe(3);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(text).toContain('method="GET",route="/simple/",status_code="200",le="+Inf"} 3');
    } finally {
      await app.close();
    }
  });
});
