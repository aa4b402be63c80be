/** The schema of the browser test devices and their relay (which gets it as JSON). Not part of the package's API. */
import { defineSchema, f } from '@loam/core';

export const deviceSchema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: { title: f.string(), store: f.number({ indexed: true }), count: f.counter(), memo: f.text() },
    },
  },
});
