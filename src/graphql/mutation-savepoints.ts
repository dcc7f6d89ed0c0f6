/**
 * Each root mutation field runs in a savepoint of the operation's transaction. The transaction
 * commits when execution ends, field errors included (plugins/request-scope.ts), so the fields
 * before a failing one keep their writes, as GraphQL runs them one after another. Without the
 * savepoint a resolver that set some fields and then refused another (a wrong model kind, a
 * taken slug) committed what it had set: an error answered, half of the change kept.
 *
 * A field that succeeds is flushed inside its savepoint; one that fails is rolled back to it,
 * and the unit of work forgets what it had not written yet, unless its error says its writes
 * must hold (`CodedError.keepingWrites`: a session ended on a reused refresh token). Fields that
 * open their own transactions (`extensions: { ownTransactions: true }`) run as they are.
 */
import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CodedError } from '../platform/errors/coded-error.js';

const SAVEPOINT = 'sluice_mutation_field';

async function statement(em: EntityManager, sql: string): Promise<void> {
  await em.getConnection().execute(sql, [], 'run', em.getTransactionContext());
}

export function withMutationSavepoints(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    if ((field.extensions as { ownTransactions?: boolean } | undefined)?.ownTransactions) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (source, args, context: { em?: EntityManager }, info) => {
      const em = context.em;
      if (!em?.isInTransaction()) return resolve(source, args, context, info);
      await statement(em, `savepoint ${SAVEPOINT}`);
      const keep = async () => {
        await em.flush();
        await statement(em, `release savepoint ${SAVEPOINT}`);
      };
      let result: unknown;
      try {
        result = await resolve(source, args, context, info);
      } catch (error) {
        if (error instanceof CodedError && error.keepsWrites) {
          await keep();
        } else {
          // The field's error is the answer: a rollback that fails too (a lost connection) is not.
          await statement(em, `rollback to savepoint ${SAVEPOINT}`).catch(() => undefined);
          em.clear();
        }
        throw error;
      }
      await keep();
      return result;
    };
  }
  return schema;
}
