/** The schema of the hooks test page and of the relay its tests start. Not part of the package's API. */
import { defineSchema, f } from '@loam/core';

/** Notes in groups; the hooks tests' relay lets a `writer` change everything but `pinned`. */
export const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        n: f.number({ indexed: true }),
        group: f.string({ optional: true, indexed: true }),
        pinned: f.boolean({ default: false }),
      },
    },
  },
});
