/** A person's own data: export it, or erase the account. */
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { bounded } from './string-bounds.js';

builder.queryField('exportMyData', (t) =>
  t.field({
    type: 'JSONObject',
    description: 'Everything Sluice holds about you, in every tenant: profile, memberships, sessions, API keys you created, your usage and audit events.',
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => ctx.services.privacy.exportMyData(),
  }),
);

builder.mutationField('deleteMyAccount', (t) =>
  t.boolean({
    description:
      'Erases your account: sessions, memberships and API keys end, tenants only you belong to are deleted, and your audit events keep only a pseudonym. Refused (CONFLICT) while you are the only owner of a tenant with other members.',
    authScopes: { authenticated: true },
    args: { password: t.arg.string({ required: true, ...bounded('password', 'secret') }) },
    resolve: (_root, { password }, ctx) => ctx.services.privacy.deleteMyAccount(password),
  }),
);
