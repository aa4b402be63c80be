import { writeFileSync } from 'node:fs';
import { schemaToJson } from '@loam/core';
import { schema } from '../src/schema';

writeFileSync('loam/schema.json', schemaToJson(schema));
