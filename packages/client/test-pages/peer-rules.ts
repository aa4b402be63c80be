/**
 * The rules of the relay the peer tests and benchmark start, which the peer test page also judges peers by:
 * clerks read and write every note, but may not set `group`. Not part of the package's API.
 */
import type { Rules } from '@loam/core';

export const peerRules: Rules = {
  notes: {
    roles: [
      {
        name: 'clerk',
        read: true,
        write: true,
        insert: true,
        delete: true,
        fields: { write: ['title', 'n', 'place'] },
      },
    ],
  },
};
