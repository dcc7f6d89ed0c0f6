/**
 * Field-level limits on the mutations worth guessing at: `logIn` and `signUp` per client address
 * and per email (`deleteMyAccount` and an anonymous `acceptInvitation` with a password, which
 * check a password, as a `logIn`), `createApiKey` and
 * `rotateApiKey` per principal (rules in platform/rate-limits/attempt-buckets.ts). Checked
 * before execution, for every such field in the operation (two aliased `logIn`s are two
 * attempts), so a refused operation runs nothing at all and opens no transaction.
 *
 * Why not @envelop/rate-limiter: its Redis store reads a list, then writes it back. Parallel
 * requests all read the same list and all pass; measured with 50 parallel `logIn`s against a
 * limit of 5 a minute, all 50 passed, three rounds running. A brute-force limit that parallel
 * requests walk through protects nothing, so these fields use the same atomic token buckets as
 * the global limits.
 */
import { getArgumentValues, type FieldNode, type GraphQLObjectType } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AuthContext, ClientContext } from './context.js';
import { codedErrorToGraphQL, type RateLimitedError } from '../platform/errors/index.js';
import type { AttemptLimits } from '../platform/rate-limits/attempt-buckets.js';
import { principalOf } from '../platform/rate-limits/bucket-keys.js';
import { operationOf, rootFieldsOf } from '../graphql/root-fields.js';

type Context = ClientContext & AuthContext;

export interface AttemptLimitOptions {
  limits: AttemptLimits;
  /** The email an invitation token is for; undefined for a token that is not one. */
  invitationEmail: (token: string) => Promise<string | undefined>;
}

export function useAttemptLimits({ limits, invitationEmail }: AttemptLimitOptions): Plugin<Context> {
  async function refusalFor(field: FieldNode, mutation: GraphQLObjectType, context: Context, variables: Record<string, unknown>) {
    const name = field.name.value;
    if (name === 'logIn' || name === 'signUp') {
      return limits.credentialAttempt(name, context.clientIp, emailArgument(mutation, field, variables));
    }
    if (name === 'deleteMyAccount') {
      // It checks the account's password: a guess there is a sign-in attempt, counted in the
      // same buckets, or a stolen access token would guess at a dozen a second (an attacker review).
      return limits.credentialAttempt('logIn', context.clientIp, context.actor.kind === 'user' ? context.actor.email : undefined);
    }
    if (name === 'acceptInvitation' && context.actor.kind === 'anonymous') {
      // With a password it checks (or sets) the invited account's password: a sign-in attempt
      // for the invitation's email, whether or not the account exists, so the limit tells the
      // token's holder nothing and an inviter holding the token guesses no faster than logIn.
      const { token, password } = argumentsOf(mutation, field, variables) ?? {};
      if (!password) return null;
      const email = typeof token === 'string' ? await invitationEmail(token) : undefined;
      return limits.credentialAttempt('logIn', context.clientIp, email);
    }
    if (name === 'createApiKey' || name === 'rotateApiKey') {
      // A rotation issues a new secret too, so it spends the same allowance as a creation.
      // Anonymous callers are refused by scope-auth anyway; they have no principal to count.
      const principal = principalOf(context.actor);
      return principal ? limits.apiKeyCreation(principal) : null;
    }
    return null;
  }

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const operation = operationOf(args.document, args.operationName);
      const mutation = args.schema.getMutationType();
      if (operation?.operation !== 'mutation' || !mutation) return;
      const context = args.contextValue as Context;
      for (const field of rootFieldsOf(args.document, operation)) {
        const refused: RateLimitedError | null = await refusalFor(field, mutation, context, args.variableValues ?? {});
        if (refused) {
          setResultAndStopExecution({ errors: [codedErrorToGraphQL(refused)] });
          return;
        }
      }
    },
  };
}

/** `input.email` as sent (literal or variable); undefined when absent or not coercible. */
function emailArgument(mutation: GraphQLObjectType, field: FieldNode, variables: Record<string, unknown>): unknown {
  return (argumentsOf(mutation, field, variables)?.input as { email?: unknown } | undefined)?.email;
}

/** The field's arguments as sent (literal or variable); undefined when not coercible. */
function argumentsOf(mutation: GraphQLObjectType, field: FieldNode, variables: Record<string, unknown>): Record<string, unknown> | undefined {
  const definition = mutation.getFields()[field.name.value];
  if (!definition) return undefined;
  try {
    return getArgumentValues(definition, field, variables);
  } catch {
    // Bad arguments fail execution with BAD_USER_INPUT anyway; the per-address limit still counted.
    return undefined;
  }
}
