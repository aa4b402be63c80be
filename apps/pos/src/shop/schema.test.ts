import { readFileSync } from 'node:fs';
import { parseSchema, validateRules } from '@loam/core';
import { describe, expect, it } from 'vitest';
import { rulesFile, schemaFile, shopSchemaJson } from '../node/shop-files';

describe('the shop files the relay reads', () => {
  it('loam/schema.json is the app schema (run `npm run schema -w @loam/pos` after changing schema.ts)', () => {
    const text = readFileSync(schemaFile, 'utf8');
    expect(text).toBe(shopSchemaJson());
    expect(() => parseSchema(JSON.parse(text))).not.toThrow();
  });

  it('loam/rules.json is valid and covers every collection', () => {
    const rules = validateRules(JSON.parse(readFileSync(rulesFile, 'utf8')));
    expect(Object.keys(rules).sort()).toEqual(['orderLines', 'orders', 'products', 'stores']);
  });
});
