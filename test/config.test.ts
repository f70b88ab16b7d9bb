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

  it('reads the upstream options: off by default, durations, deny patterns and the cache limit', () => {
    const off = loadConfig([], {});
    expect(off.upstream).toBeUndefined();
    expect(off.upstreamTtl).toBe(600_000);
    expect(off.upstreamOffline).toBe(false);
    expect(off.upstreamDeny.matches('anything')).toBe(false);
    const c = loadConfig(['--upstream-deny', 'MyCorp_*, internal.tools', '--upstream-cache-max-size', '2GiB'], {
      WHEELHOUSE_UPSTREAM: 'https://pypi.org/simple/',
      WHEELHOUSE_UPSTREAM_CREDENTIALS: 'ci:s3cr:et',
      WHEELHOUSE_UPSTREAM_TTL: '90s',
      WHEELHOUSE_UPSTREAM_OFFLINE: 'true',
    });
    expect(c.upstream).toBe('https://pypi.org/simple/');
    expect(c.upstreamCredentials).toBe('ci:s3cr:et');
    expect(c.upstreamTtl).toBe(90_000);
    expect(c.upstreamOffline).toBe(true);
    expect(c.upstreamCacheMaxSize).toBe(2 * 1024 ** 3);
    expect(c.upstreamDeny.matches('mycorp-utils')).toBe(true);
    expect(c.upstreamDeny.matches('Internal_Tools')).toBe(true);
    expect(c.upstreamDeny.matches('requests')).toBe(false);
  });

  it.each([
    [['--upstream', 'ftp://mirror/simple/'], '--upstream / WHEELHOUSE_UPSTREAM'],
    [
      ['--upstream', 'https://pypi.org/simple/', '--upstream-credentials', 'no-colon'],
      '--upstream-credentials / WHEELHOUSE_UPSTREAM_CREDENTIALS',
    ],
    [['--upstream', 'https://pypi.org/simple/', '--upstream-deny', 'my corp'], '--upstream-deny / WHEELHOUSE_UPSTREAM_DENY'],
    [['--upstream-offline'], '--upstream-offline / WHEELHOUSE_UPSTREAM_OFFLINE'],
    [['--upstream', 'https://pypi.org/simple/', '--fallback-url', 'https://pypi.org/simple/'], '--fallback-url / WHEELHOUSE_FALLBACK_URL'],
    [['--upstream-ttl', 'later'], '--upstream-ttl / WHEELHOUSE_UPSTREAM_TTL'],
  ])('stops on the upstream option %j with a message naming it', (argv, naming) => {
    expect(() => loadConfig(argv, {})).toThrow(naming);
  });

  describe('API tokens, trusted publishing and per-project rights', () => {
    const KEY = 'k'.repeat(32);
    const github = JSON.stringify({ publishers: [{ issuer: 'github', repository: 'o/r', workflow: 'release.yml', projects: ['p'] }] });

    it('reads the token keys, the publishers and the ACL, and counts tokens as a source of logins', () => {
      const c = loadConfig(['--token-key', `${KEY},${'j'.repeat(40)}`, '--trusted-publishers', 'tp.json', '--acl', 'acl.txt', '-P', 'h'], {
        WHEELHOUSE_TRUSTED_PUBLISHERS_JSON: github,
      });
      expect(c.tokenKey?.keys).toHaveLength(2);
      expect(c.trustedPublishers).toMatch(/\/tp\.json$/);
      expect(c.trustedPublishersJson).toBe(github);
      expect(c.acl).toMatch(/\/acl\.txt$/);
      expect(c.oidcAudience).toBe('wheelhouse');
      // A token key alone lets a server require logins for reads, and take uploads.
      const tokensOnly = loadConfig(['-a', 'download,list,update'], { WHEELHOUSE_TOKEN_KEY: KEY });
      expect(tokensOnly.auth).toMatchObject({ hasUsers: false, hasTokens: true, uploadsDisabled: false });
      expect(loadConfig([], {}).tokenKey).toBeNull();
    });

    it.each([
      [['--token-key', 'short'], '--token-key / WHEELHOUSE_TOKEN_KEY: key 1 is 5 characters long'],
      [['--token-key', `${KEY},${KEY}`], '--token-key / WHEELHOUSE_TOKEN_KEY: key 2 is given twice'],
      [['--trusted-publishers', 'tp.json'], '--trusted-publishers / WHEELHOUSE_TRUSTED_PUBLISHERS: trusted publishing mints API tokens'],
      [['--trusted-publishers-json', github], '--trusted-publishers-json / WHEELHOUSE_TRUSTED_PUBLISHERS_JSON: trusted publishing mints'],
      [
        ['--token-key', KEY, '--trusted-publishers-json', '{"publishers": [{}]}'],
        '--trusted-publishers-json / WHEELHOUSE_TRUSTED_PUBLISHERS_JSON: the value: publishers[0]',
      ],
      [['--token-key', KEY, '--trusted-publishers-json', 'nope'], 'WHEELHOUSE_TRUSTED_PUBLISHERS_JSON: the value: not valid JSON'],
      [['--acl', 'acl.txt'], '--acl / WHEELHOUSE_ACL: gives rights to users, but none are configured'],
      [['--oidc-audience', 'two words'], '--oidc-audience / WHEELHOUSE_OIDC_AUDIENCE'],
      [['-a', 'list,update'], 'or --token-key (API tokens)'],
    ])('stops on %j with a message naming the option', (argv, naming) => {
      expect(() => loadConfig(argv, {})).toThrow(ConfigError);
      expect(() => loadConfig(argv, {})).toThrow(naming);
    });

    it('never repeats a token key in its messages', () => {
      const secret = 'secret-but-too-short';
      expect(() => loadConfig(['--token-key', secret], {})).toThrow(/characters long/);
      try {
        loadConfig(['--token-key', secret], {});
      } catch (err) {
        expect((err as Error).message).not.toContain(secret);
      }
    });
  });

  it('takes several package directories: the first for uploads, the others read-only, from flags, arguments or the variable', () => {
    expect(loadConfig([], {}).extraRoots).toEqual([]);
    const flags = loadConfig(['-r', '/srv/new', '--root', '/srv/old', '-r', '/srv/older'], {});
    expect([flags.root, ...flags.extraRoots]).toEqual(['/srv/new', '/srv/old', '/srv/older']);
    const args = loadConfig(['/srv/new', '/srv/old'], { WHEELHOUSE_ROOT: '/ignored' });
    expect([args.root, ...args.extraRoots]).toEqual(['/srv/new', '/srv/old']);
    const env = loadConfig([], { WHEELHOUSE_ROOT: '/srv/new:/srv/old' });
    expect([env.root, ...env.extraRoots]).toEqual(['/srv/new', '/srv/old']);
  });

  it.each([[['-r', '/srv/a', '-r', '/srv/a']], [['-r', '/srv/a', '-r', '/srv/a/old']], [['-r', '/srv/a/new', '-r', '/srv/a']]])(
    'refuses package directories that overlap (%j), naming both',
    (argv) => {
      expect(() => loadConfig(argv, {})).toThrow(/--root \/ WHEELHOUSE_ROOT: \/srv\/a.* and \/srv\/a.* overlap/);
    },
  );

  it('documents every option in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const spec of Object.values(OPTIONS)) {
      expect(readme, spec.flag).toContain(`\`--${spec.flag}\``);
      expect(readme, spec.env).toContain(`\`${spec.env}\``);
    }
  });
});
