/**
 * A partner's identity provider, as a test double we control: a real HTTP server on 127.0.0.1
 * publishing a JWKS (or answering an error status), counting fetches, and signing keys whose
 * private halves sign tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'EdDSA';
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function newKey(kid: string, alg: SigningKey['alg']): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The partner's JWKS endpoint. */
export class JwksServer {
  published: SigningKey[] = [];
  /** Answer this status (with no key set) instead of 200, e.g. a provider that is down. */
  failWith: number | undefined;
  fetches = 0;
  private server: Server = createServer((_req, res) => {
    this.fetches += 1;
    if (this.failWith) {
      res.writeHead(this.failWith).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: this.published.map((key) => key.jwk) }));
  });
  url = '';
  port = 0;
  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }
  stop() {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

/** A token signed by `key`: issuer and audience as given, subject `partner-user-1`, five minutes. */
export function externalToken(
  key: SigningKey,
  claims: Record<string, unknown>,
  options: { issuer: string; audience: string | string[]; expires?: string | number; notBefore?: string | number },
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setSubject('partner-user-1')
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setExpirationTime(options.expires ?? '5m');
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  return jwt.sign(key.privateKey);
}

export const REGISTER_PROVIDER = `mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id issuer defaultRole } }`;
