/**
 * Node ids, resolved without a promise.
 *
 * Pothos' relay plugin (4.8) builds every node's `id` field on `t.globalID`, whose resolver is
 * an `async` function: each object in an answer then completes through a promise, and its
 * parents through `Promise.all`. On the API benchmark's page (220 objects) that was about
 * 3 300 promises per request, each paying Node's promise hooks (on for the process's life
 * once MikroORM's AsyncLocalStorage has run), the microtask queue and the garbage collector.
 *
 * After the schema is built, each Node type's `id` resolver is replaced by one that calls the
 * type's own id function (Pothos keeps it in the type's `pothosOptions`) and encodes it at
 * once with `encodeNodeId`, the encoding the builder's relay options name. An id function
 * that returns a promise still goes through Pothos' resolver. No plugin wraps these fields:
 * with `runScopesOnType` a type's auth scopes run in its `isTypeOf`, once per object, before
 * any of its fields. An `id` field with auth scopes of its own would lose them here, so the
 * build refuses one.
 */
import { GraphQLObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { encodeNodeId } from './builder.js';

type Resolver = GraphQLFieldResolver<unknown, unknown>;

export function withSynchronousNodeIds(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || !type.getInterfaces().some((iface) => iface.name === 'Node')) continue;
    const idOf = (type.extensions as { pothosOptions?: { id?: { resolve?: Resolver } } }).pothosOptions?.id?.resolve;
    const field = type.getFields().id;
    if (!idOf || !field?.resolve) throw new Error(`${type.name} implements Node without Pothos' id resolver: was it made with a node ref?`);
    if ((field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes) {
      throw new Error(`${type.name}.id has auth scopes of its own, which withSynchronousNodeIds would bypass`);
    }
    const throughPothos = field.resolve;
    const typename = type.name;
    field.resolve = (parent, args, context, info) => {
      const id = idOf(parent, args, context, info);
      if (id !== null && typeof id === 'object' && typeof (id as PromiseLike<unknown>).then === 'function') return throughPothos(parent, args, context, info);
      return encodeNodeId(typename, String(id));
    };
  }
  return schema;
}
