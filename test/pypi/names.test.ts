import { describe, expect, it } from 'vitest';
import { isSafeBasename, normalizeName, parseFilename } from '../../src/pypi/names.js';

describe('normalizeName (PEP 503)', () => {
  it.each([
    ['Foo_Bar.baz', 'foo-bar-baz'],
    ['FOO.bar_BAZ', 'foo-bar-baz'],
    ['foo--_.bar', 'foo-bar'],
    ['Django', 'django'],
  ])('normalizes %s to %s', (input, out) => expect(normalizeName(input)).toBe(out));
});

describe('parseFilename', () => {
  it.each([
    ['demo_pkg-1.0.0-py3-none-any.whl', 'demo-pkg', '1.0.0', 'bdist_wheel', 'py3'],
    ['Foo_Bar.baz-1.0-py2.py3-none-any.whl', 'foo-bar-baz', '1.0', 'bdist_wheel', 'py2.py3'],
    ['numpy-2.1.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'numpy', '2.1.0', 'bdist_wheel', 'cp311'],
    ['Foo_Bar.baz-1.0.tar.gz', 'foo-bar-baz', '1.0', 'sdist', 'source'],
    ['hxc-chain-a-1.0.tar.gz', 'hxc-chain-a', '1.0', 'sdist', 'source'],
    ['foo-2-1.0.zip', 'foo-2', '1.0', 'sdist', 'source'],
    ['legacy-0.9.tar.bz2', 'legacy', '0.9', 'sdist', 'source'],
    ['pkg-1.0rc1.post2.dev3.tar.gz', 'pkg', '1.0rc1.post2.dev3', 'sdist', 'source'],
    ['epochs-1!2.0-py3-none-any.whl', 'epochs', '1!2.0', 'bdist_wheel', 'py3'],
    ['setuptools-40.6.2-py2.7.egg', 'setuptools', '40.6.2', 'bdist_egg', '2.7'],
  ])('reads %s', (filename, project, version, packagetype, py) => {
    expect(parseFilename(filename)).toMatchObject({ project, version, packagetype, pythonVersion: py });
  });

  it.each([
    ['.hidden-1.0.tar.gz'],
    ['garbage-1.0.whl'],
    ['README.md'],
    ['noversion.tar.gz'],
    ['a/b-1.0.tar.gz'],
    ['a\\b-1.0.tar.gz'],
    ['x-1.0.exe'],
  ])('refuses %s', (filename) => expect(parseFilename(filename)).toBeNull());
});

describe('isSafeBasename', () => {
  it('accepts ordinary distribution names', () => {
    expect(isSafeBasename('Foo_Bar.baz-1.0+local.1-py3-none-any.whl')).toBe(true);
  });
  it.each(['../x-1.0.tar.gz', 'a/b.whl', 'a\\b.whl', 'x\0.whl', '/etc/passwd', '.env', 'two words.whl', 'ctl\n.whl', ''])(
    'refuses %j',
    (name) => expect(isSafeBasename(name)).toBe(false),
  );
});
