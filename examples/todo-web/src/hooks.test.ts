import { describe, expect, it } from 'vitest';
import { ago } from './components/ActivityFeed';
import { listHref, parseHash } from './hooks';

describe('the hash route', () => {
  it('round-trips list ids', () => {
    for (const id of ['l01abc', 'a/b c', 'ü']) expect(parseHash(listHref(id))).toBe(id);
  });

  it('is null off a list', () => {
    expect(parseHash('')).toBeNull();
    expect(parseHash('#/')).toBeNull();
    expect(parseHash('#/lists/')).toBeNull();
    expect(parseHash('#/lists/%E0%A4%A')).toBeNull();
  });
});

describe('activity times', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('says how long ago', () => {
    expect(ago('2026-01-01T11:59:55Z', now)).toBe('just now');
    expect(ago('2026-01-01T11:59:20Z', now)).toBe('40 s ago');
    expect(ago('2026-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('not a time', now)).toBe('not a time');
  });
});
