import { describe, expect, it } from 'vitest';
import { parseCoreMetadata } from '../../src/pypi/metadata.js';
import { parseFilename } from '../../src/pypi/names.js';
import { checkStagedUpload, checkUploadFilename, type StagedFacts, type UploadFields } from '../../src/pypi/upload-checks.js';

const fields = (entries: Record<string, string>): UploadFields => new Map(Object.entries(entries).map(([k, v]) => [k, [v]]));

/** The code and status a check threw, for assertions on the error a client would see. */
function refusal(check: () => unknown): { code: string; statusCode: number; message: string } {
  try {
    check();
  } catch (err) {
    return err as { code: string; statusCode: number; message: string };
  }
  throw new Error('the check accepted what it should refuse');
}

describe('checkUploadFilename', () => {
  it('accepts wheels and sdists in every legacy spelling of the name, and parses them', () => {
    expect(checkUploadFilename('My_Pkg-1.0-py3-none-any.whl', fields({ filetype: 'bdist_wheel' }))).toMatchObject({
      project: 'my-pkg',
      version: '1.0',
      packagetype: 'bdist_wheel',
    });
    expect(checkUploadFilename('my.pkg-2.0rc1.tar.gz', fields({}))).toMatchObject({ project: 'my-pkg', packagetype: 'sdist' });
    expect(checkUploadFilename('my-pkg-2.0.zip', fields({ filetype: 'sdist' }))).toMatchObject({ version: '2.0' });
  });

  it.each([
    ['../etc/passwd-1.0.tar.gz', 'WH_ERR_BAD_FILENAME', /without any path/],
    ['pkg-1.0.tar.gz\n', 'WH_ERR_BAD_FILENAME', /control characters/],
    ['pkg-1.0.egg', 'WH_ERR_BAD_FILENAME', /PEP 527/],
    ['pkg-1.0.exe', 'WH_ERR_BAD_FILENAME', /PEP 527/],
    ['pkg.whl', 'WH_ERR_BAD_FILENAME', /name-version/],
    ['pkg-1.0.x.tar.gz', 'WH_ERR_BAD_VERSION', /PEP 440/],
    ['pkg-latest.tar.gz', 'WH_ERR_BAD_FILENAME', /name-version/],
  ])('refuses %j with a 400 that says what is expected', (filename, code, message) => {
    const err = refusal(() => checkUploadFilename(filename, fields({})));
    expect(err).toMatchObject({ code, statusCode: 400 });
    expect(err.message).toMatch(message);
  });

  it('refuses a filetype field that contradicts the file', () => {
    const err = refusal(() => checkUploadFilename('pkg-1.0.tar.gz', fields({ filetype: 'bdist_wheel' })));
    expect(err).toMatchObject({ code: 'WH_ERR_FILETYPE_MISMATCH', statusCode: 400 });
    expect(err.message).toContain("'pkg-1.0.tar.gz' (a sdist)");
  });
});

describe('checkStagedUpload', () => {
  const digests = { sha256: 'a'.repeat(64), md5: 'b'.repeat(32), blake2b256: 'c'.repeat(64) };
  const staged = (filename: string, metadata: string | null): StagedFacts => {
    const parsed = parseFilename(filename);
    if (!parsed) throw new Error(`not a distribution name: ${filename}`);
    return { parsed, digests, metadata: { parsed: metadata === null ? null : parseCoreMetadata(metadata) } };
  };
  const wheel = staged('my_pkg-1.0-py3-none-any.whl', 'Metadata-Version: 2.1\nName: My.Pkg\nVersion: 1.0.0\n');

  it('accepts an upload whose fields, digests and metadata agree, however the name and version are spelled', () => {
    expect(() => {
      checkStagedUpload(wheel, fields({ name: 'MY_PKG', version: '1.0', sha256_digest: 'A'.repeat(64), md5_digest: 'b'.repeat(32) }));
    }).not.toThrow();
    expect(() => {
      checkStagedUpload(wheel, fields({}));
    }).not.toThrow();
  });

  it.each([
    [{ sha256_digest: '0'.repeat(64) }, 'WH_ERR_DIGEST_MISMATCH', /sha256_digest/],
    [{ blake2_256_digest: '0'.repeat(64) }, 'WH_ERR_DIGEST_MISMATCH', /blake2_256_digest/],
    [{ name: 'other' }, 'WH_ERR_NAME_MISMATCH', /name field 'other'/],
    [{ version: '1.1' }, 'WH_ERR_VERSION_MISMATCH', /version field '1.1'/],
  ])('refuses the fields %j with a 400 naming what disagrees', (given, code, message) => {
    const err = refusal(() => {
      checkStagedUpload(wheel, fields(given));
    });
    expect(err).toMatchObject({ code, statusCode: 400 });
    expect(err.message).toMatch(message);
  });

  it.each([
    [staged('pkg-1.0-py3-none-any.whl', null), /no \*\.dist-info\/METADATA/],
    [staged('pkg-1.0.tar.gz', null), /no PKG-INFO/],
    [staged('pkg-1.0.tar.gz', 'Metadata-Version: 2.1\nName: pkg\n'), /no Name or no Version/],
  ])('refuses a distribution without usable metadata (%#)', (facts, message) => {
    const err = refusal(() => {
      checkStagedUpload(facts, fields({}));
    });
    expect(err).toMatchObject({ code: 'WH_ERR_BAD_ARCHIVE', statusCode: 400 });
    expect(err.message).toMatch(message);
  });

  it('refuses a file whose own metadata names another project or version', () => {
    const otherName = staged('pkg-1.0.tar.gz', 'Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n');
    expect(refusal(() => checkStagedUpload(otherName, fields({})))).toMatchObject({ code: 'WH_ERR_NAME_MISMATCH' });
    const otherVersion = staged('pkg-1.0.tar.gz', 'Metadata-Version: 2.1\nName: pkg\nVersion: 9.0\n');
    expect(refusal(() => checkStagedUpload(otherVersion, fields({})))).toMatchObject({ code: 'WH_ERR_VERSION_MISMATCH' });
  });
});
