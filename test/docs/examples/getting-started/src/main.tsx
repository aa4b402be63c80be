import { openDatabase } from '@loam/client';
import { q } from '@loam/core';
import { createLoamHooks } from '@loam/react';
import { createRoot } from 'react-dom/client';
import { schema } from './schema';

const { LoamProvider, useQuery } = createLoamHooks(schema);
const sync = { url: import.meta.env.VITE_LOAM_RELAY, getToken: async () => null }; // null: anonymous
const db = await openDatabase({ name: 'todos', schema, sync });
await db.subscribe('todos'); // the relay sends every todo, then every change
function Todos() {
  const todos = useQuery('todos', { sort: [q.asc('title')] }); // live: re-renders on every change
  if (todos.status !== 'ready') return <p>{todos.error?.message ?? 'Loading…'}</p>;
  return (
    <ul>
      {todos.data.map((todo) => (
        <li key={todo.id}>{todo.title}</li>
      ))}
    </ul>
  );
}
createRoot(document.getElementById('root')!).render(
  <LoamProvider db={db}>
    <Todos />
  </LoamProvider>,
);
