/** The schema of the client test pages, and of the relay the sync browser tests start. Not part of the package's API. */
import { defineSchema, f } from '@loam/core';

/**
 * Notes with a title, a number, an optional group (the sync tests' relay forbids writing `group`) and an optional
 * place.
 */
export const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        n: f.number({ indexed: true }),
        group: f.string({ optional: true, indexed: true }),
        place: f.object({ city: f.string(), zip: f.string({ optional: true }) }, { optional: true }),
      },
    },
  },
});
