/** Every entity, for the ORM and the migrator. A new entity is registered here. */
import { Membership } from './tenancy/membership.entity.js';
import { Tenant } from './tenancy/tenant.entity.js';
import { User } from './tenancy/user.entity.js';

export const entities = [Tenant, User, Membership];
