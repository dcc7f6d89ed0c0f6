/** Every entity, for the ORM and the migrator. A new entity is registered here. */
import { ApiKey } from './identity/api-key.entity.js';
import { IdentityProvider } from './identity/identity-provider.entity.js';
import { RefreshToken, Session } from './identity/session.entity.js';
import { Invitation } from './tenancy/invitation.entity.js';
import { Membership } from './tenancy/membership.entity.js';
import { Tenant } from './tenancy/tenant.entity.js';
import { User } from './tenancy/user.entity.js';

export const entities = [Tenant, User, Membership, Invitation, Session, RefreshToken, ApiKey, IdentityProvider];
