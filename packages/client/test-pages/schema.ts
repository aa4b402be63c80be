/** The schema of the client test pages, and of the relay the sync browser tests start. Not part of the package's API. */
import { defineSchema, f } from '@loam/core';

/** Notes with a title, a number and an optional group (the sync tests' relay forbids writing `group`). */
export const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        n: f.number({ indexed: true }),
        group: f.string({ optional: true, indexed: true }),
      },
    },
  },
});
