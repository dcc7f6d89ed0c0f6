/**
 * The services of one entry point (a GraphQL operation, a REST route, an operator command, a
 * test), built around its tenant scope: every entry point builds them with this function.
 */
import { AuditService } from './audit/audit.service.js';
import { datasetSlugsUsingModel } from './datasets/dataset-embedding.js';
import { DatasetService } from './datasets/dataset.service.js';
import { DocumentService } from './datasets/document.service.js';
import { AskableEndpointService } from './endpoint-queries/askable-endpoints.js';
import { QueryService } from './endpoint-queries/query.service.js';
import { CatalogService } from './endpoints/catalog.service.js';
import { endpointHealthByIds } from './model-health/endpoint-health.js';
import { ModelTestService } from './model-health/model-test.js';
import { isDown } from './model-health/health-rules.js';
import { EndpointService } from './endpoints/endpoint.service.js';
import { endpointSlugsRankingByVectors, endpointSlugsUsingModel } from './endpoints/model-users.js';
import { AccountService } from './identity/account.service.js';
import { ApiKeyService, revokeKeysOfFormerMember } from './identity/api-key.service.js';
import { endSessionsOfFormerMember } from './identity/former-member-sessions.js';
import { disableProvidersOf, IdentityProviderService } from './identity/identity-provider.service.js';
import { heldAnswerablePerson } from './identity/answerable-person.js';
import { parentCredentialOf } from './identity/credential-children.js';
import { InvitationAcceptanceService } from './identity/invitation-acceptance.service.js';
import { PrivacyService } from './identity/privacy.service.js';
import { AcceptInputService } from './ingestion/accept-input.service.js';
import { JobCommandsService } from './ingestion/job-commands.service.js';
import { ProgressReaderService } from './ingestion/progress-reader.service.js';
import { queueReembed, ReembedService } from './ingestion/reembed.js';
import { ModelService } from './models/model.service.js';
import { PolicyService } from './policies/policy.service.js';
import { UsageService } from './policies/usage.service.js';
import type { TenantScope } from '../db/tenant-scope.js';
import type { Actor } from './actor.js';
import type { RequestFacts, ServiceContext, ServiceDependencies } from './service-context.js';
import { MembersService } from './tenancy/members.service.js';
import { TenancyService } from './tenancy/tenancy.service.js';

export interface ServicesInput {
  actor: Actor;
  scope: TenantScope;
  deps: ServiceDependencies;
  request?: RequestFacts;
}

export function createServices({ actor, scope, deps, request }: ServicesInput) {
  const ctx: ServiceContext = { actor, scope, em: scope.em, deps, request };
  const tenancy = new TenancyService(ctx);
  const catalog = new CatalogService(ctx, () => tenancy.rateLimitOverride(), (endpointIds) => endpointHealthByIds(ctx.em, endpointIds));
  /** Members of the context's tenant: this request's, or another the caller leaves with their account. */
  const membersIn = (tenantCtx: ServiceContext) =>
    new MembersService(tenantCtx, {
      endSessionsOf: (userId, tenantId) => endSessionsOfFormerMember(tenantCtx, userId, tenantId),
      revokeKeysOf: (userId) => revokeKeysOfFormerMember(tenantCtx, userId),
      disableProvidersOf: (userId, reason) => disableProvidersOf(tenantCtx, userId, reason),
      heldAnswerablePerson: () => heldAnswerablePerson(tenantCtx),
      parentCredential: () => parentCredentialOf(tenantCtx),
    });
  return {
    tenancy,
    accounts: new AccountService(ctx),
    apiKeys: new ApiKeyService(ctx),
    identityProviders: new IdentityProviderService(ctx),
    members: membersIn(ctx),
    invitationAcceptance: new InvitationAcceptanceService(ctx),
    datasets: new DatasetService(
      ctx,
      async (datasetId) => void (await queueReembed(ctx, datasetId, 'queued')),
      (datasetId) => endpointSlugsRankingByVectors(ctx.em, datasetId),
    ),
    documents: new DocumentService(ctx),
    /** Ingestion by use case: accepting input (starts a job), commanding jobs, reading progress. */
    ingestionInput: new AcceptInputService(ctx),
    ingestionCommands: new JobCommandsService(ctx),
    ingestionProgress: new ProgressReaderService(ctx),
    reembedding: new ReembedService(ctx),
    models: new ModelService(ctx, async (modelId) => ({
      endpoints: await endpointSlugsUsingModel(ctx.em, modelId),
      datasets: await datasetSlugsUsingModel(ctx.em, modelId),
    })),
    /** "Test connection": one check of a model on demand, told and audited. */
    modelTests: new ModelTestService(ctx),
    endpoints: new EndpointService(ctx, catalog, (model) => isDown(model, ctx.deps.clock.now(), ctx.deps.modelHealth)),
    /** Listed endpoints of every tenant, for any caller (the one SECURITY DEFINER read). */
    catalog,
    queries: new QueryService(ctx),
    /** What a consumer may ask, described (MCP's tool list). */
    askable: new AskableEndpointService(ctx),
    policies: new PolicyService(ctx),
    usage: new UsageService(ctx),
    audit: new AuditService(ctx),
    privacy: new PrivacyService(ctx, (tenantCtx) => membersIn(tenantCtx).leaveWithAccount()),
  };
}

export type Services = ReturnType<typeof createServices>;
