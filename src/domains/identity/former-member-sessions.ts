/**
 * A removed member's sessions in the tenant they were removed from: ended with them, so that
 * being invited again does not bring old access or refresh tokens back to life.
 */
import type { ServiceContext } from '../service-context.js';
import { Session } from './session.entity.js';

/**
 * Ends `userId`'s live sessions active in `tenantId` (`revokedReason: 'membership'`),
 * in the removing request's transaction. The authenticator already refuses them while the
 * membership is gone (auth_session_role joins the live membership), but only that: once the
 * person was re-admitted, the old tokens worked again as the new membership's role. Sessions
 * active in the user's other tenants are theirs to keep.
 */
export async function endSessionsOfFormerMember(ctx: ServiceContext, userId: string, tenantId: string): Promise<void> {
  await ctx.em.nativeUpdate(
    Session,
    { user: userId, activeTenant: tenantId, revokedAt: null },
    { revokedAt: new Date(), revokedReason: 'membership' },
  );
}
