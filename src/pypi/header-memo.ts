/** Headers longer than this are parsed every time: a hostile client cannot fill the memo with 16 KiB keys. */
const MAX_KEY = 512;
/** Distinct values kept; a fleet of pip, uv and poetry versions sends a handful. */
const MAX_ENTRIES = 256;

/**
 * A parse of a request header, done once per distinct value: every pip of one version sends the
 * same Accept and Accept-Encoding, and a burst of 510 of them would otherwise parse each 510 times.
 */
export function memoByHeader<T>(parse: (header: string) => T): (header: string) => T {
  const memo = new Map<string, T>();
  return (header) => {
    if (header.length > MAX_KEY) return parse(header);
    let value = memo.get(header);
    if (value === undefined) {
      if (memo.size >= MAX_ENTRIES) memo.clear();
      value = parse(header);
      memo.set(header, value);
    }
    return value;
  };
}
