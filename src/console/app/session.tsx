/**
 * Who is signed in, for the whole application. The session (access and refresh tokens, the
 * tenant, the role) lives in memory and in sessionStorage: this tab only, gone when the tab
 * closes, kept across a reload; never in localStorage. The SDK refreshes it before the access
 * token expires; each refresh rotates the refresh token, which is stored again.
 *
 * Or the session is an external identity provider's token (issue 21): checked once with a
 * `viewer` query, then the bearer of every request and WebSocket until it is refused (it
 * cannot be refreshed: the provider issues the next one). Kept exactly like the tokens above.
 */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { AcceptInvitationDocument, ConsoleExternalViewerDocument, LogInDocument, LogOutDocument, SignUpDocument, SwitchTenantDocument, type SessionFieldsFragment } from '../../sdk/index.js';
import type { Permission, Session, SluiceClient } from '../../sdk/index.js';
import { useHeldPermissions } from './held-permissions.js';
import { anonymousClient, sessionClient, SluiceError, tokenClient } from './sluice.js';

const STORAGE_KEY = 'sluice.console.app';
/** The retired classic page's record (an access token): a tab open since before it was retired may still hold one. */
const RETIRED_CLASSIC_KEY = 'sluice.console.session';

interface SignedInTenant {
  role: string;
  tenant: { id: string; slug: string; name: string };
}

/** A Sluice user, signed in with email and password (or sign-up, an invitation). */
export interface UserSignedIn extends SignedInTenant {
  kind: 'user';
  tokens: Session;
  user: { id: string; email: string };
}

/** An external identity: the provider's token is the bearer; there is no Sluice user behind it. */
export interface ExternalSignedIn extends SignedInTenant {
  kind: 'external';
  token: string;
  /** The slug given at sign-in, sent as X-Sluice-Tenant (for an issuer several tenants trust). */
  tenantHint?: string;
  identity: { issuer: string; subject: string; email: string | null };
  /** When the token stops being accepted (epoch ms), as the API said. */
  expiresAt: number | null;
  user?: undefined;
}

export type SignedIn = UserSignedIn | ExternalSignedIn;

/** The name to show for whoever is signed in. */
export function signedInName(signedIn: SignedIn): string {
  if (signedIn.kind === 'user') return signedIn.user.email;
  return signedIn.identity.email ?? signedIn.identity.subject;
}

interface SessionContextValue {
  signedIn: SignedIn | undefined;
  /** Why the last session ended without the user signing out, and how it had signed in (the sign-in view to return to). */
  endedBecause: { message: string; kind: SignedIn['kind'] } | undefined;
  signIn(input: { email: string; password: string; tenant?: string }): Promise<void>;
  /** Checks an identity provider's token with `viewer`, then signs in with it as the bearer. */
  signInWithToken(input: { token: string; tenant?: string }): Promise<void>;
  signUp(input: { email: string; password: string; tenantName: string }): Promise<void>;
  switchTenant(slug: string): Promise<void>;
  /** Accepts an invitation: as the signed-in user, or with a password for a new account; the session moves to its tenant. */
  acceptInvitation(input: { token: string; password?: string; displayName?: string }): Promise<void>;
  signOut(): Promise<void>;
  /** Runs a call with the session's client; a refused session (UNAUTHENTICATED) signs out and says why. */
  call<T>(request: (client: SluiceClient) => Promise<T>): Promise<T>;
  /** What the caller may do in its tenant (`viewer.permissions`); undefined until the server has said. */
  permissions: ReadonlySet<Permission> | undefined;
  /** Why reading the permissions failed, if it did; `retryPermissions` asks again. */
  permissionsFailure: unknown;
  retryPermissions(): void;
  /** Whether the caller holds `permission` (false until the permissions are known). */
  may(permission: Permission): boolean;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside <SessionProvider>');
  return value;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [current, setCurrent] = useState<{ signedIn: SignedIn; client: SluiceClient } | undefined>(() => withClient(restore()));
  const [endedBecause, setEndedBecause] = useState<SessionContextValue['endedBecause']>();
  const signedIn = current?.signedIn;
  const client = current?.client;

  const keep = useCallback((next: SignedIn | undefined) => {
    store(next);
    setCurrent(withClient(next));
  }, []);

  const call = useCallback(
    async <T,>(request: (client: SluiceClient) => Promise<T>): Promise<T> => {
      if (!client) throw new SluiceError('UNAUTHENTICATED', 'Sign in first', {});
      try {
        return await request(client);
      } catch (error) {
        // A password the call itself carried (deleting the account) being wrong is not the session ending.
        if (error instanceof SluiceError && error.code === 'UNAUTHENTICATED' && error.details.reason !== 'credentials') {
          setEndedBecause(
            signedIn?.kind === 'external'
              ? { kind: 'external', message: `Your identity provider’s token was refused: ${error.message} (${error.code}). Sign in again with a new token.` }
              : { kind: 'user', message: 'Your session ended (expired, signed out elsewhere or revoked): sign in again.' },
          );
          keep(undefined);
        }
        throw error;
      }
    },
    [signedIn, client, keep],
  );
  // Read again for each session: after sign-in, a switch of tenant, a restore from storage.
  const held = useHeldPermissions(current, call);

  const value = useMemo<SessionContextValue>(() => {
    const fromPayload = (payload: SessionFieldsFragment): SignedIn => ({
      kind: 'user',
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
      async signInWithToken(input) {
        keep(await checkedToken(input.token.trim(), input.tenant?.trim() || undefined));
        setEndedBecause(undefined);
      },
      async signUp(input) {
        const { signUp } = await anonymousClient().mutate(SignUpDocument, { input });
        setEndedBecause(undefined);
        keep(fromPayload(signUp));
      },
      async switchTenant(slug) {
        if (!client) throw new SluiceError('UNAUTHENTICATED', 'Sign in first', {});
        if (signedIn?.kind === 'external') throw new SluiceError('FORBIDDEN', NOT_A_USER, { reason: 'NOT_A_USER' });
        const { switchTenant } = await client.mutate(SwitchTenantDocument, { tenant: slug });
        // Only a new access token: the session's refresh token (the latest the client rotated
        // to) stays ours, and its next refresh yields tokens for the new tenant.
        const refreshToken = client.session()?.refreshToken ?? signedIn?.tokens.refreshToken;
        if (!refreshToken) throw new SluiceError('UNAUTHENTICATED', 'Sign in first', {});
        keep({
          kind: 'user',
          tokens: { accessToken: switchTenant.accessToken, refreshToken, expiresAt: Date.parse(switchTenant.expiresAt) },
          role: switchTenant.role,
          tenant: switchTenant.tenant,
          user: switchTenant.user,
        });
      },
      async acceptInvitation(input) {
        // An external identity is no user: the invitation makes (or signs in) the account instead.
        const { acceptInvitation } = await (signedIn?.kind === 'user' && client ? client : anonymousClient()).mutate(AcceptInvitationDocument, input);
        setEndedBecause(undefined);
        keep(fromPayload(acceptInvitation));
      },
      async signOut() {
        try {
          // Ends the session on the server too, so the tokens are worthless if copied. An
          // external token has no session to end here: it is forgotten (its provider revokes it).
          if (signedIn?.kind === 'user') await client?.mutate(LogOutDocument, {});
        } finally {
          keep(undefined);
        }
      },
      call,
      permissions: held.permissions,
      permissionsFailure: held.failure,
      retryPermissions: held.retry,
      may: (permission) => held.permissions?.has(permission) ?? false,
    };
  }, [signedIn, endedBecause, client, keep, call, held]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** What the console says where a view needs a Sluice user and an external identity is signed in. */
export const NOT_A_USER = 'You signed in with an identity provider’s token: it acts in one tenant, as the provider says, and has no Sluice account behind it.';

/**
 * The token as the API sees it: refused tokens reject with the API's own error (expired,
 * untrusted issuer, …); a token that is valid but not an external identity's (a Sluice access
 * token, an API key) is refused here, since this session could not refresh or scope it.
 */
async function checkedToken(token: string, tenantHint: string | undefined): Promise<ExternalSignedIn> {
  if (!token) throw new SluiceError('BAD_USER_INPUT', 'Paste the token your identity provider issued (a JWT).', { field: 'token' });
  const { viewer } = await tokenClient(token, tenantHint).query(ConsoleExternalViewerDocument, {});
  if (viewer.kind !== 'EXTERNAL' || !viewer.tenant || !viewer.role || !viewer.externalIssuer || !viewer.externalSubject) {
    throw new SluiceError('BAD_USER_INPUT', `This token is not an identity provider’s (Sluice sees a caller of kind ${viewer.kind}): sign in with your email and password instead.`, { field: 'token' });
  }
  return {
    kind: 'external',
    token,
    tenantHint,
    role: viewer.role,
    tenant: viewer.tenant,
    identity: { issuer: viewer.externalIssuer, subject: viewer.externalSubject, email: viewer.email ?? null },
    expiresAt: viewer.credentialExpiresAt ? Date.parse(viewer.credentialExpiresAt) : null,
  };
}

/** One client per signed-in session; its refreshes store the rotated tokens. */
function withClient(signedIn: SignedIn | undefined): { signedIn: SignedIn; client: SluiceClient } | undefined {
  if (!signedIn) return undefined;
  if (signedIn.kind === 'external') return { signedIn, client: tokenClient(signedIn.token, signedIn.tenantHint) };
  let latest: UserSignedIn = signedIn;
  const client = sessionClient(signedIn.tokens, (tokens) => {
    latest = { ...latest, tokens };
    store(latest);
  });
  return { signedIn, client };
}

function restore(): SignedIn | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as { kind?: string; token?: unknown; tokens?: { refreshToken?: unknown }; tenant?: { slug?: unknown } } | null;
    if (!saved || typeof saved.tenant?.slug !== 'string') return undefined;
    if (saved.kind === 'external') return typeof saved.token === 'string' ? (saved as unknown as ExternalSignedIn) : undefined;
    // Records from before external tokens have no kind: they are users' sessions.
    if (typeof saved.tokens?.refreshToken === 'string') return { ...(saved as unknown as UserSignedIn), kind: 'user' };
  } catch {
    // Unreadable (or storage disabled): sign in again.
  }
  return undefined;
}

function store(signedIn: SignedIn | undefined): void {
  try {
    if (!signedIn) {
      sessionStorage.removeItem(STORAGE_KEY);
      sessionStorage.removeItem(RETIRED_CLASSIC_KEY);
      return;
    }
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(signedIn));
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}
