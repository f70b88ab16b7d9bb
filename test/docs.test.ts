// What the README promises about itself: a picture of a project page, committed and small.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/server.js';

describe('the README', () => {
  it('shows a screenshot of a project page that is in the repository and under 100 KB', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const images = [...readme.matchAll(/!\[[^\]]+\]\(([^)\s]+\.png)\)/g)].map((m) => m[1] ?? '');
    expect(images).toContain('test/fixtures/screenshots/project-page.png');
    for (const image of images) {
      const file = path.join(REPO, image);
      expect(existsSync(file), image).toBe(true);
      expect(statSync(file).size, image).toBeLessThan(100 * 1024);
      expect(readFileSync(file).subarray(1, 4).toString('latin1'), image).toBe('PNG');
    }
  });
});
