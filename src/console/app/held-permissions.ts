/**
 * What the signed-in caller may do in its tenant, as the server says (`viewer.permissions`, from
 * its one rule table): read once per session, that is after signing in, after a switch of tenant
 * and when a stored session is restored on a reload. The console repeats no rule: the views and
 * actions it offers follow this set (may.ts).
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ConsolePermissionsDocument, type Permission, type SluiceClient } from '../../sdk/index.js';

export interface HeldPermissions {
  /** undefined until the server has answered for this session. */
  permissions: ReadonlySet<Permission> | undefined;
  /** Why reading them failed (the shell says so and offers to try again), if it did. */
  failure: unknown;
  retry(): void;
}

/**
 * The permissions of `session` (a new object for each signed-in session): an answer for an
 * earlier session (a switch of tenant overtook it) is never shown for this one.
 */
export function useHeldPermissions(session: object | undefined, call: <T>(request: (client: SluiceClient) => Promise<T>) => Promise<T>): HeldPermissions {
  const [answer, setAnswer] = useState<{ of: object; permissions?: ReadonlySet<Permission>; failure?: unknown }>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!session) return;
    let current = true;
    call((client) => client.query(ConsolePermissionsDocument, {})).then(
      ({ viewer }) => current && setAnswer({ of: session, permissions: new Set(viewer.permissions) }),
      (failure: unknown) => current && setAnswer({ of: session, failure }),
    );
    return () => {
      current = false;
    };
  }, [session, call, attempt]);
  const retry = useCallback(() => {
    setAnswer(undefined);
    setAttempt((count) => count + 1);
  }, []);
  const ours = answer?.of === session ? answer : undefined;
  return useMemo(() => ({ permissions: ours?.permissions, failure: ours?.failure, retry }), [ours, retry]);
}
