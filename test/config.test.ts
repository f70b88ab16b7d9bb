import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, OPTIONS } from '../src/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig([], {});
    expect(c.root.endsWith('/packages')).toBe(true);
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.refreshInterval).toBe(1000);
    expect(c.rescanInterval).toBe(300_000);
    expect([...c.authenticate]).toEqual(['update']);
    expect(c.maxUploadSize).toBe(1024 ** 3);
    expect(c.workers).toBeGreaterThanOrEqual(1);
  });

  it('reads every option from WHEELHOUSE_* variables, and flags win over them', () => {
    const env = {
      WHEELHOUSE_PORT: '9000',
      WHEELHOUSE_REFRESH_INTERVAL: '250ms',
      WHEELHOUSE_AUTHENTICATE: 'list,update',
      WHEELHOUSE_PASSWORDS: '/x/htpasswd',
      WHEELHOUSE_OVERWRITE: 'true',
    };
    const c = loadConfig(['--port', '9001'], env);
    expect(c.port).toBe(9001);
    expect(c.refreshInterval).toBe(250);
    expect([...c.authenticate].sort()).toEqual(['list', 'update']);
    expect(c.passwords).toBe('/x/htpasswd');
    expect(c.overwrite).toBe(true);
    expect(loadConfig(['--no-overwrite'], env).overwrite).toBe(false);
  });

  it.each([
    [['--port', '70000'], '--port / WHEELHOUSE_PORT'],
    [['--refresh-interval', 'soon'], '--refresh-interval / WHEELHOUSE_REFRESH_INTERVAL'],
    [['--authenticate', 'upload'], '--authenticate / WHEELHOUSE_AUTHENTICATE'],
    [['--max-upload-size', 'lots'], '--max-upload-size / WHEELHOUSE_MAX_UPLOAD_SIZE'],
    [['--authenticate', '.', '--passwords', '/etc/htpasswd'], '--passwords / WHEELHOUSE_PASSWORDS'],
    [['--username', 'ci'], '--password / WHEELHOUSE_PASSWORD'],
    [['--fallback-url', 'ftp://x'], '--fallback-url / WHEELHOUSE_FALLBACK_URL'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--base-path', '/py pi'], '--base-path / WHEELHOUSE_BASE_PATH'],
    [['--base-path', '/a/../b'], '--base-path / WHEELHOUSE_BASE_PATH'],
    [['--base-path', 'https://example.com/pypi'], '--base-path / WHEELHOUSE_BASE_PATH'],
    [['--health-endpoint', 'health'], '--health-endpoint / WHEELHOUSE_HEALTH_ENDPOINT'],
    [['--health-endpoint', '/simple/health'], 'is a URL of the index itself'],
    [['--health-endpoint', '/metrics'], 'is a URL of the index itself'],
    [['--health-endpoint', '/status/json'], 'is a URL of the index itself'],
    [['--hash-algo', 'md6'], '--hash-algo / WHEELHOUSE_HASH_ALGO'],
    [['--hash-algo', 'true'], '--hash-algo / WHEELHOUSE_HASH_ALGO'],
    [['--log-format', 'xml'], '--log-format / WHEELHOUSE_LOG_FORMAT'],
  ])('stops on %j with a message naming the option', (argv, naming) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(naming);
  });

  it('reads the pypiserver options in their spellings, and normalizes them', () => {
    const defaults = loadConfig([], {});
    expect([defaults.basePath, defaults.healthEndpoint, defaults.hashAlgo, defaults.welcome, defaults.logFormat]).toEqual([
      '',
      '/health',
      'sha256',
      null,
      'json',
    ]);
    for (const [given, base] of [
      ['/pypi', '/pypi'],
      ['/pypi/', '/pypi'],
      ['pypi', '/pypi'],
      ['/', ''],
      ['/tools/pypi', '/tools/pypi'],
    ]) {
      expect(loadConfig(['--base-path', given as string], {}).basePath, given).toBe(base);
    }
    for (const off of ['off', 'OFF', 'no', 'false', '0', 'none']) expect(loadConfig(['--hash-algo', off], {}).hashAlgo).toBeNull();
    expect(loadConfig(['--hash-algo', 'SHA512'], {}).hashAlgo).toBe('sha512');
    const c = loadConfig([], { WHEELHOUSE_WELCOME: 'welcome.md', WHEELHOUSE_LOG_FORMAT: 'pretty', WHEELHOUSE_HEALTH_ENDPOINT: '/healthz' });
    expect(c.welcome).toBe(path.resolve('welcome.md'));
    expect(c.logFormat).toBe('pretty');
    expect(c.healthEndpoint).toBe('/healthz');
  });

  it('documents every option in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const spec of Object.values(OPTIONS)) {
      expect(readme, spec.flag).toContain(`\`--${spec.flag}\``);
      expect(readme, spec.env).toContain(`\`${spec.env}\``);
    }
  });
});
