import { defineSchema, f } from '@loam/core';

export const schema = defineSchema({ version: 1, collections: { todos: { fields: { title: f.string() } } } });
