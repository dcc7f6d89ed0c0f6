/** Policies: the rules on an endpoint (who, how often, at what cost, what input). */
import { configurationJsonSchema } from '../domains/configuration.js';
import type { PolicyType } from '../domains/policies/policy-type.js';
import type { Policy } from '../domains/policies/policy.entity.js';
import { builder } from './builder.js';
import { EndpointRef } from './endpoints.js';
import { bounded } from './string-bounds.js';

export const PolicyRef = builder.loadableNodeRef('Policy', {
  id: { resolve: (policy: Policy) => policy.id },
  load: (ids: string[], ctx) => ctx.services.policies.byIds(ids),
});

PolicyRef.implement({
  description: 'A rule on an endpoint, evaluated for every query (see `policyTypes`).',
  authScopes: (policy) => ({ $all: { tenant: policy.tenant.id, permission: 'tenant:read' } }),
  fields: (t) => ({
    type: t.exposeString('type', { description: '`access`, `rate_limit`, `accounting` or `content_guard`.' }),
    configuration: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'As validated, defaults filled in. ADMIN (`config:read`): others get FORBIDDEN and see the type and whether it is enabled.',
      authScopes: { permission: 'config:read' },
      resolve: (policy) => policy.configuration,
    }),
    enabled: t.exposeBoolean('enabled'),
    endpoint: t.field({ type: EndpointRef, resolve: (policy) => policy.endpoint.id }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.objectField(EndpointRef, 'policies', (t) =>
  t.field({
    type: [PolicyRef],
    description: 'Its policies, oldest first (disabled ones too).',
    resolve: (endpoint, _args, ctx) => ctx.services.policies.forEndpoint(endpoint.id),
  }),
);

const PolicyTypeRef = builder.objectRef<PolicyType>('PolicyType').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    configurationSchema: t.field({
      type: 'JSONObject',
      description: 'The configuration it takes, as JSON Schema.',
      resolve: (type) => configurationJsonSchema(type.configSchema),
    }),
  }),
});

const CreatePolicyInput = builder.inputType('CreatePolicyInput', {
  fields: (t) => ({
    endpointId: t.globalID({ required: true, for: [EndpointRef] }),
    type: t.string({ required: true, ...bounded('keyword') }),
    configuration: t.field({ type: 'JSONObject', required: true }),
    enabled: t.boolean({ required: false, description: 'Default true.' }),
  }),
});

const UpdatePolicyInput = builder.inputType('UpdatePolicyInput', {
  fields: (t) => ({
    configuration: t.field({ type: 'JSONObject', required: false, description: 'Replaces the configuration.' }),
    enabled: t.boolean({ required: false }),
  }),
});

const DeletedPolicyRef = builder.objectRef<{ id: string }>('DeletedPolicy').implement({
  fields: (t) => ({ id: t.globalID({ resolve: (deleted) => ({ type: 'Policy', id: deleted.id }) }) }),
});

builder.queryField('policyTypes', (t) =>
  t.field({
    type: [PolicyTypeRef],
    description: 'The policy types this server knows, in the order they are evaluated.',
    authScopes: { permission: 'tenant:read' },
    resolve: (_root, _args, ctx) => ctx.services.policies.types(),
  }),
);

builder.mutationFields((t) => ({
  createPolicy: t.field({
    type: PolicyRef,
    authScopes: { permission: 'policy:manage' },
    args: { input: t.arg({ type: CreatePolicyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.policies.create({ ...input, endpointId: input.endpointId.id }),
  }),
  updatePolicy: t.field({
    type: PolicyRef,
    authScopes: { permission: 'policy:manage' },
    args: { id: t.arg.globalID({ required: true, for: [PolicyRef] }), input: t.arg({ type: UpdatePolicyInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => ctx.services.policies.update(id.id, input),
  }),
  deletePolicy: t.field({
    type: DeletedPolicyRef,
    description: 'Removes the policy; its decisions stay in the log.',
    authScopes: { permission: 'policy:manage' },
    args: { id: t.arg.globalID({ required: true, for: [PolicyRef] }) },
    resolve: async (_root, { id }, ctx) => ({ id: await ctx.services.policies.delete(id.id) }),
  }),
}));
