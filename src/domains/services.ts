/** The services of one request, built by the request-scope plugin around one EntityManager. */
import { AuditService } from './audit/audit.service.js';
import { DatasetService } from './datasets/dataset.service.js';
import { DocumentService } from './datasets/document.service.js';
import { QueryService } from './endpoint-queries/query.service.js';
import { EndpointService } from './endpoints/endpoint.service.js';
import { endpointSlugsUsingModel } from './endpoints/model-users.js';
import { AccountService } from './identity/account.service.js';
import { ApiKeyService } from './identity/api-key.service.js';
import { IdentityProviderService } from './identity/identity-provider.service.js';
import { InvitationAcceptanceService } from './identity/invitation-acceptance.service.js';
import { PrivacyService } from './identity/privacy.service.js';
import { AcceptInputService } from './ingestion/accept-input.service.js';
import { JobCommandsService } from './ingestion/job-commands.service.js';
import { ProgressReaderService } from './ingestion/progress-reader.service.js';
import { ModelService } from './models/model.service.js';
import { PolicyService } from './policies/policy.service.js';
import { UsageService } from './policies/usage.service.js';
import type { ServiceContext } from './service-context.js';
import { MembersService } from './tenancy/members.service.js';
import { TenancyService } from './tenancy/tenancy.service.js';

export function createServices(ctx: ServiceContext) {
  return {
    tenancy: new TenancyService(ctx),
    accounts: new AccountService(ctx),
    apiKeys: new ApiKeyService(ctx),
    identityProviders: new IdentityProviderService(ctx),
    members: new MembersService(ctx),
    invitationAcceptance: new InvitationAcceptanceService(ctx),
    datasets: new DatasetService(ctx),
    documents: new DocumentService(ctx),
    /** Ingestion by use case: accepting input (starts a job), commanding jobs, reading progress. */
    ingestionInput: new AcceptInputService(ctx),
    ingestionCommands: new JobCommandsService(ctx),
    ingestionProgress: new ProgressReaderService(ctx),
    models: new ModelService(ctx, (modelId) => endpointSlugsUsingModel(ctx.em, modelId)),
    endpoints: new EndpointService(ctx),
    queries: new QueryService(ctx),
    policies: new PolicyService(ctx),
    usage: new UsageService(ctx),
    audit: new AuditService(ctx),
    privacy: new PrivacyService(ctx),
  };
}

export type Services = ReturnType<typeof createServices>;
