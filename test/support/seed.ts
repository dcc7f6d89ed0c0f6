/**
 * Seeding straight into the database as the owner (a superuser, so RLS does not apply), for
 * tests that need data before the API has mutations to create it. Each call makes a fresh
 * tenant with unique slug and emails, so tests never share rows.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { withClient } from '../../src/db/bootstrap.js';
import type { Role } from '../../src/domains/access/roles.js';

export interface SeededUser {
  id: string;
  email: string;
  role: Role;
  membershipId: string;
}

export interface SeededTenant {
  id: string;
  slug: string;
  name: string;
  users: SeededUser[];
}

export async function seedTenant(
  ownerUrl: string,
  options: { members?: { role: Role; email?: string; userId?: string }[] } = {},
): Promise<SeededTenant> {
  const suffix = randomBytes(4).toString('hex');
  const tenant = { id: randomUUID(), slug: `tenant-${suffix}`, name: `Tenant ${suffix}`, users: [] as SeededUser[] };
  const members = options.members ?? [{ role: 'OWNER' as Role }];
  await withClient(ownerUrl, async (client) => {
    await client.query('insert into tenants (id, slug, name, created_at) values ($1, $2, $3, now())', [
      tenant.id,
      tenant.slug,
      tenant.name,
    ]);
    for (const [index, member] of members.entries()) {
      let userId = member.userId;
      let email = member.email ?? `${member.role.toLowerCase()}-${index}-${suffix}@example.test`;
      if (userId) {
        const { rows } = await client.query<{ email: string }>('select email from users where id = $1', [userId]);
        email = rows[0]!.email;
      } else {
        userId = randomUUID();
        await client.query('insert into users (id, email, created_at) values ($1, $2, now())', [userId, email]);
      }
      const membershipId = randomUUID();
      // Distinct timestamps so keyset pagination order is deterministic.
      await client.query(
        `insert into memberships (id, tenant_id, user_id, role, created_at) values ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')`,
        [membershipId, tenant.id, userId, member.role, index],
      );
      tenant.users.push({ id: userId, email, role: member.role, membershipId });
    }
  });
  return tenant;
}
