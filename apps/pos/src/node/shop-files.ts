/**
 * Where the shop's relay files live, and the schema as the relay reads it. Node only.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Rules, schemaToJson } from '@loam/core';
import { shopSchema } from '../shop/schema';

/** `apps/pos/loam/schema.json`: the shop schema as JSON, read by the relay. */
export const schemaFile = fileURLToPath(new URL('../../loam/schema.json', import.meta.url));
/** `apps/pos/loam/rules.json`: who may read and write what, read by the relay. */
export const rulesFile = fileURLToPath(new URL('../../loam/rules.json', import.meta.url));
/** The repository root (where `.loam-data/` lives). */
export const repositoryRoot = fileURLToPath(new URL('../../../..', import.meta.url));

/** The exact text `loam/schema.json` must hold: {@link shopSchema} as JSON. */
export function shopSchemaJson(): string {
  return `${schemaToJson(shopSchema)}\n`;
}

/** The rules of `loam/rules.json`, parsed. */
export function readShopRules(): Rules {
  return JSON.parse(readFileSync(rulesFile, 'utf8')) as Rules;
}
