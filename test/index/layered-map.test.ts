import { describe, expect, it } from 'vitest';
import { LayeredMap } from '../../src/index/layered-map.js';

const base = () => new Map(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i] as const));

describe('LayeredMap', () => {
  it('reads as the base with the changes applied: puts win over deletes, and gone keys are gone', () => {
    const m = LayeredMap.over(
      base(),
      new Map([
        ['k1', -1],
        ['new', 7],
      ]),
      ['k2', 'k1', 'missing'],
    );
    expect(m.get('k1')).toBe(-1);
    expect(m.has('k2')).toBe(false);
    expect(m.get('k2')).toBeUndefined();
    expect(m.get('new')).toBe(7);
    expect(m.get('k3')).toBe(3);
    expect(m.size).toBe(1_000);
    expect([...m.keys()].length).toBe(1_000);
    expect(new Map(m)).toEqual(
      new Map(
        ([...base()] as [string, number][])
          .filter(([k]) => k !== 'k2' && k !== 'k1')
          .concat([
            ['k1', -1],
            ['new', 7],
          ]),
      ),
    );
  });

  it('stacks a few layers, then flattens into a plain map', () => {
    let m: ReadonlyMap<string, number> = base();
    for (let i = 0; i < 8; i++) m = LayeredMap.over(m, new Map([[`x${i}`, i]]), []);
    expect(m).toBeInstanceOf(LayeredMap);
    m = LayeredMap.over(m, new Map([['x8', 8]]), []);
    expect(m).toBeInstanceOf(Map);
    expect(m.size).toBe(1_009);
    // Many changes at once are not worth a layer either.
    expect(LayeredMap.over(base(), new Map(Array.from({ length: 100 }, (_, i) => [`y${i}`, i] as const)), [])).toBeInstanceOf(Map);
  });
});
