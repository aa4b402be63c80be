import { useEffect, useState } from 'react';

/** The current time, refreshed every `everyMs` (for "last synced" and for the day the totals cover). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
