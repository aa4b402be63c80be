import { describe, expect, it } from 'vitest';
import { parseTerminal } from './terminal';

describe('parseTerminal', () => {
  it('accepts 1 to 99, written as people do', () => {
    expect(['1', '2', '07', '99', ' 3 '].map(parseTerminal)).toEqual(['1', '2', '7', '99', '3']);
  });

  it('refuses everything else instead of falling back to a till', () => {
    for (const bad of ['abc', '0', '00', '100', '-1', '1.5', '', '1e1', null, undefined])
      expect(parseTerminal(bad), String(bad)).toBeUndefined();
  });
});
