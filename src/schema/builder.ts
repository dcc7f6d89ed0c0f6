/**
 * The Pothos builder: plugins, context, scalars and the auth scopes every field is checked
 * against. It defines no types; each domain file under schema/ does.
 */
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin, { encodeGlobalID } from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { GraphQLError, GraphQLScalarType } from 'graphql';
import { DateTimeResolver, JSONObjectResolver, SafeIntResolver } from 'graphql-scalars';
import type { GraphQLContext } from '../plugins/context.js';
import { isAuthenticated } from '../domains/actor.js';
import { isUuid } from '../domains/ids.js';
import { DATE_TIME_RANGE, isDateTimeInRange } from '../platform/input/date-times.js';
import { can, canAskEndpoints, type Permission } from '../domains/access/permissions.js';
import { roleAtLeast, type ApiScope, type Role } from '../domains/access/roles.js';

export interface AuthScopes {
  /** Any credential: user, API key or external identity. */
  authenticated: boolean;
  /** The actor's role in its tenant is at least this one. */
  role: Role;
  /** The credential carries this scope (users carry all; API keys what they were given). */
  scope: ApiScope;
  /** The object belongs to the actor's tenant: the GraphQL layer of tenant isolation. */
  tenant: string;
  /** The rule table (domains/access/permissions.ts) allows the actor this permission. */
  permission: Permission;
  /**
   * May ask endpoints: `endpoint:query`, or anonymous (the endpoint decides whether it admits
   * anonymous callers). Only `queryEndpoint` and `endpointQuery` use it.
   */
  endpointConsumer: boolean;
}

/** A global id: base64("Type:uuid"), Pothos' default encoding. */
export function encodeNodeId(typename: string, id: string): string {
  return encodeGlobalID(typename, id);
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    /** Whole numbers beyond GraphQL's 32-bit Int (sums of micro-units), up to 2^53 - 1. */
    SafeInt: { Input: number; Output: number };
    File: { Input: File; Output: never };
  };
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, DataloaderPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    // Type-level scopes run once per object, so a foreign object fails as a whole.
    runScopesOnType: true,
    authScopes: (context) => ({
      authenticated: isAuthenticated(context.actor),
      role: (required) => roleAtLeast(context.actor.role, required),
      scope: (required) => context.actor.scopes.includes(required),
      tenant: (tenantId) => context.actor.tenantId !== null && context.actor.tenantId === tenantId,
      permission: (permission) => can(context.actor, permission),
      endpointConsumer: canAskEndpoints(context.actor),
    }),
    unauthorizedError: (_parent, context, _info, result) =>
      new GraphQLError(isAuthenticated(context.actor) ? result.message : 'Authentication required', {
        extensions: { code: isAuthenticated(context.actor) ? 'FORBIDDEN' : 'UNAUTHENTICATED' },
      }),
  },
  relay: {
    clientMutationId: 'omit',
    // Every node type belongs to a tenant: a caller without credentials is refused like on any
    // tenant's field (UNAUTHENTICATED) before a node is loaded. Loading one had no tenant to
    // bind the data layer to, and failed as INTERNAL (the isolation sweep's "none" caller).
    nodeQueryOptions: { authScopes: { authenticated: true } },
    nodesQueryOptions: { authScopes: { authenticated: true } },
    cursorType: 'String',
    // Node ids are also encoded by node-ids.ts, outside Pothos: one function for both.
    encodeGlobalID: (typename, id) => encodeNodeId(typename, String(id)),
    // A global id is base64("Type:uuid"); one that does not decode to that is the caller's
    // mistake (BAD_USER_INPUT), never a database error.
    decodeGlobalID: (globalID) => {
      const [typename, id, ...rest] = Buffer.from(globalID, 'base64').toString('utf8').split(':');
      if (!typename || !id || rest.length > 0 || !isUuid(id)) {
        throw new GraphQLError(`Invalid id: ${JSON.stringify(globalID.slice(0, 100))}`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      return { typename, id };
    },
  },
  validation: {
    validationError: (result) => {
      const issues = result.issues.map((issue) => ({
        path: issue.path?.map((segment) => (typeof segment === 'object' ? segment.key : segment)),
        message: issue.message,
      }));
      // The message names each field too, for people reading it (clients match on `issues`).
      return new GraphQLError(issues.map(({ path, message }) => (path?.length ? `${path.join('.')}: ${message}` : message)).join('; '), {
        extensions: { code: 'BAD_USER_INPUT', issues },
      });
    },
  },
});

builder.addScalarType('DateTime', boundedDateTime());
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('SafeInt', SafeIntResolver);
builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request spec (multipart/form-data). Input only.',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value) => {
    // Duck-typed: Yoga's multipart parser hands in its own (whatwg-node) File class.
    const file = value as File | null;
    if (file && typeof file === 'object' && typeof file.name === 'string' && typeof file.arrayBuffer === 'function') return file;
    throw new GraphQLError('Expected a file uploaded with the GraphQL multipart request spec', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});

builder.queryType({});
builder.subscriptionType({});
builder.mutationType({});

/**
 * graphql-scalars' DateTime, refusing what PostgreSQL cannot take (year 0000, or a time zone
 * offset past 9999-12-31): BAD_USER_INPUT naming the range (platform/input/date-times.ts).
 * GraphQL puts the variable or the literal before the message.
 */
function boundedDateTime(): GraphQLScalarType {
  const checked = (value: unknown): Date => {
    const date = value as Date;
    if (!isDateTimeInRange(date)) {
      throw new GraphQLError(`DateTime must be from ${DATE_TIME_RANGE}`, { extensions: { code: 'BAD_USER_INPUT', http: { spec: true, status: 400 } } });
    }
    return date;
  };
  const config = DateTimeResolver.toConfig();
  return new GraphQLScalarType<Date, Date>({
    ...config,
    parseValue: (value) => checked(DateTimeResolver.parseValue(value)),
    parseLiteral: (ast, variables) => checked(DateTimeResolver.parseLiteral(ast, variables)),
  });
}
