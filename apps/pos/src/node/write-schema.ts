/**
 * `npm run schema -w @loam/pos`: rewrites `loam/schema.json` from `src/shop/schema.ts`.
 */
import { writeFileSync } from 'node:fs';
import { schemaFile, shopSchemaJson } from './shop-files';

writeFileSync(schemaFile, shopSchemaJson());
process.stdout.write(`wrote ${schemaFile}\n`);
