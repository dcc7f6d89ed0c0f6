/**
 * Who is signed in, for the whole application. The session (access and refresh tokens, the
 * tenant, the role) lives in memory and in sessionStorage: this tab only, gone when the tab
 * closes, kept across a reload; never in localStorage. The SDK refreshes it before the access
 * token expires; each refresh rotates the refresh token, which is stored again.
 *
 * The classic page (/console/classic/) keeps its own record under its own key: it is written
 * too, so following the link to it needs no second sign-in.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { AcceptInvitationDocument, LogInDocument, LogOutDocument, SignUpDocument, SwitchTenantDocument, type SessionFieldsFragment } from '../../sdk/index.js';
import type { Session, SluiceClient } from '../../sdk/index.js';
import { anonymousClient, sessionClient, SluiceError } from './sluice.js';

const STORAGE_KEY = 'sluice.console.app';
const CLASSIC_KEY = 'sluice.console.session';

export interface SignedIn {
  tokens: Session;
  role: string;
  tenant: { id: string; slug: string; name: string };
  user: { id: string; email: string };
}

interface SessionContextValue {
  signedIn: SignedIn | undefined;
  /** Why the last session ended without the user signing out (shown by the sign-in view). */
  endedBecause: string | undefined;
  signIn(input: { email: string; password: string; tenant?: string }): Promise<void>;
  signUp(input: { email: string; password: string; tenantName: string }): Promise<void>;
  switchTenant(slug: string): Promise<void>;
  /** Accepts an invitation: as the signed-in user, or with a password for a new account; the session moves to its tenant. */
  acceptInvitation(input: { token: string; password?: string; displayName?: string }): Promise<void>;
  signOut(): Promise<void>;
  /** Runs a call with the session's client; a refused session (UNAUTHENTICATED) signs out and says why. */
  call<T>(request: (client: SluiceClient) => Promise<T>): Promise<T>;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside <SessionProvider>');
  return value;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [current, setCurrent] = useState<{ signedIn: SignedIn; client: SluiceClient } | undefined>(() => withClient(restore()));
  const [endedBecause, setEndedBecause] = useState<string | undefined>();
  const signedIn = current?.signedIn;
  const client = current?.client;

  const keep = useCallback((next: SignedIn | undefined) => {
    store(next);
    setCurrent(withClient(next));
  }, []);

  const value = useMemo<SessionContextValue>(() => {
    const fromPayload = (payload: SessionFieldsFragment): SignedIn => ({
      tokens: { accessToken: payload.accessToken, refreshToken: payload.refreshToken, expiresAt: Date.parse(payload.expiresAt) },
      role: payload.role,
      tenant: payload.tenant,
      user: payload.user,
    });
    return {
      signedIn,
      endedBecause,
      async signIn(input) {
        const { logIn } = await anonymousClient().mutate(LogInDocument, { input: { ...input, tenant: input.tenant || undefined } });
        setEndedBecause(undefined);
        keep(fromPayload(logIn));
      },
      async signUp(input) {
        const { signUp } = await anonymousClient().mutate(SignUpDocument, { input });
        setEndedBecause(undefined);
        keep(fromPayload(signUp));
      },
      async switchTenant(slug) {
        if (!client) throw new SluiceError('UNAUTHENTICATED', 'Sign in first', {});
        const { switchTenant } = await client.mutate(SwitchTenantDocument, { tenant: slug });
        keep(fromPayload(switchTenant));
      },
      async acceptInvitation(input) {
        const { acceptInvitation } = await (client ?? anonymousClient()).mutate(AcceptInvitationDocument, input);
        setEndedBecause(undefined);
        keep(fromPayload(acceptInvitation));
      },
      async signOut() {
        try {
          // Ends the session on the server too, so the tokens are worthless if copied.
          await client?.mutate(LogOutDocument, {});
        } finally {
          keep(undefined);
        }
      },
      async call(request) {
        if (!client) throw new SluiceError('UNAUTHENTICATED', 'Sign in first', {});
        try {
          return await request(client);
        } catch (error) {
          // A password the call itself carried (deleting the account) being wrong is not the session ending.
          if (error instanceof SluiceError && error.code === 'UNAUTHENTICATED' && error.details.reason !== 'credentials') {
            setEndedBecause('Your session ended (expired, signed out elsewhere or revoked): sign in again.');
            keep(undefined);
          }
          throw error;
        }
      },
    };
  }, [signedIn, endedBecause, client, keep]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** One client per signed-in session; its refreshes store the rotated tokens. */
function withClient(signedIn: SignedIn | undefined): { signedIn: SignedIn; client: SluiceClient } | undefined {
  if (!signedIn) return undefined;
  let latest = signedIn;
  const client = sessionClient(signedIn.tokens, (tokens) => {
    latest = { ...latest, tokens };
    store(latest);
  });
  return { signedIn, client };
}

function restore(): SignedIn | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as SignedIn | null;
    if (saved && typeof saved.tokens?.refreshToken === 'string' && typeof saved.tenant?.slug === 'string') return saved;
  } catch {
    // Unreadable (or storage disabled): sign in again.
  }
  return undefined;
}

function store(signedIn: SignedIn | undefined): void {
  try {
    if (!signedIn) {
      sessionStorage.removeItem(STORAGE_KEY);
      sessionStorage.removeItem(CLASSIC_KEY);
      return;
    }
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(signedIn));
    const classic = {
      accessToken: signedIn.tokens.accessToken,
      expiresAt: new Date(signedIn.tokens.expiresAt).toISOString(),
      role: signedIn.role,
      tenant: { slug: signedIn.tenant.slug, name: signedIn.tenant.name },
      user: { email: signedIn.user.email },
    };
    sessionStorage.setItem(CLASSIC_KEY, JSON.stringify(classic));
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}
