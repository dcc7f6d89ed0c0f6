/**
 * Marks an argument or input field for the audit trail where it is defined, spread into its
 * options: `t.arg.string({ required: true, ...audited.secret })`. Pothos hands `extensions`
 * to graphql-js, where the audit plugin reads them (see domains/audit/marks.ts for what each
 * mark keeps). test/audit/audit-markings.test.ts fails on a secret- or personal-sounding
 * field that carries none.
 */
import type { AuditMark, MemberMarks } from '../domains/audit/marks.js';

const mark = (audit: AuditMark) => ({ extensions: { audit } }) as const;

export const audited = {
  /** Passwords, tokens, keys: never stored. */
  secret: mark('secret'),
  /** Free text (questions, document text, descriptions): length and keyed digest. */
  text: mark('text'),
  /** Emails, names: outside the hashed payload, removed by erasure. */
  personal: mark('personal'),
  /** An email address: personal; a value not shaped like one (a password in the wrong field) only as a keyed digest. */
  email: mark('email'),
  /** A JSON Web Key Set (or key): per key, only what identifies it (type, id, algorithm, use, curve, thumbprint). */
  keySet: mark('keySet'),
  /** Sounds sensitive, is not (a claim's name): kept, and said so. */
  plain: mark('plain'),
  /** A JSON field whose members are marked (a model config's `systemPrompt`: text); the rest unmarked. */
  members: (marks: MemberMarks) => ({ extensions: { auditMembers: marks } }) as const,
};
