/** Every entity, for the ORM and the migrator. A new entity is registered here. */
import { Chunk } from './datasets/chunk.entity.js';
import { ChunkEmbedding } from './datasets/chunk-embedding.entity.js';
import { Dataset } from './datasets/dataset.entity.js';
import { DatasetTerm } from './datasets/dataset-term.entity.js';
import { Document } from './datasets/document.entity.js';
import { Endpoint } from './endpoints/endpoint.entity.js';
import { UsageRecord } from './endpoints/usage-record.entity.js';
import { ApiKey } from './identity/api-key.entity.js';
import { IdentityProvider } from './identity/identity-provider.entity.js';
import { RefreshToken, Session } from './identity/session.entity.js';
import { SignInAddress } from './identity/sign-in-address.entity.js';
import { IngestionItem } from './ingestion/ingestion-item.entity.js';
import { IngestionJob } from './ingestion/ingestion-job.entity.js';
import { WorkerInstance } from './ingestion/worker-instance.entity.js';
import { Model } from './models/model.entity.js';
import { Policy } from './policies/policy.entity.js';
import { PolicyDecision } from './policies/policy-decision.entity.js';
import { Invitation } from './tenancy/invitation.entity.js';
import { Membership } from './tenancy/membership.entity.js';
import { Tenant } from './tenancy/tenant.entity.js';
import { User } from './tenancy/user.entity.js';

export const entities = [
  Tenant,
  User,
  Membership,
  Invitation,
  Session,
  RefreshToken,
  SignInAddress,
  ApiKey,
  IdentityProvider,
  Dataset,
  DatasetTerm,
  Document,
  Chunk,
  ChunkEmbedding,
  IngestionJob,
  IngestionItem,
  WorkerInstance,
  Model,
  Endpoint,
  UsageRecord,
  Policy,
  PolicyDecision,
];
