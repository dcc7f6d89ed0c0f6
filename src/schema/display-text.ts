/**
 * The marking every name, title and description argument carries: `...displayText('name')` on
 * the field. Its validation cleans the value the way domains/display-text.ts defines (escape
 * sequences, controls and bidi overrides removed, NFC, white space collapsed) before the
 * resolver sees it, and refuses it with BAD_USER_INPUT (`extensions.issues` names the field,
 * the message the maximum) when it is empty or too long. test/hardening/display-text.test.ts
 * walks the schema and fails on a String argument or input field named like a name, title or
 * description that carries no marking, so a new field cannot forget it. The domain services
 * apply the same rules again for doors that are not GraphQL (file contents, operator CLI).
 */
import { z } from 'zod';
import type { AuditMark } from '../domains/audit/marks.js';
import { characterCount, DESCRIPTION_MAX, NAME_MAX, oneLine, severalLines, TITLE_MAX } from '../domains/display-text.js';

export type DisplayTextKind = 'name' | 'title' | 'description';

const RULES: Record<DisplayTextKind, { clean: (text: string) => string; max: number; empty: boolean }> = {
  name: { clean: oneLine, max: NAME_MAX, empty: false },
  title: { clean: oneLine, max: TITLE_MAX, empty: false },
  description: { clean: severalLines, max: DESCRIPTION_MAX, empty: true },
};

function schemaFor({ clean, max, empty }: (typeof RULES)[DisplayTextKind]) {
  return z
    .string()
    .transform(clean)
    .check((context) => {
      const length = characterCount(context.value);
      if ((length === 0 && !empty) || length > max) {
        context.issues.push({ code: 'custom', input: context.value, message: `must be ${empty ? 'at most' : '1 to'} ${max} characters (got ${length})` });
      }
    });
}

const SCHEMAS = { name: schemaFor(RULES.name), title: schemaFor(RULES.title), description: schemaFor(RULES.description) };

/**
 * Options to spread into a `t.string(...)` / `t.arg.string(...)`: the validation and its
 * marking, with the field's audit mark beside it when it has one (`displayText('description',
 * 'text')`): both live in `extensions`, so spreading `audited.text` as well would replace this.
 */
export function displayText(kind: DisplayTextKind, audit?: AuditMark) {
  return { validate: SCHEMAS[kind], extensions: { displayText: kind, ...(audit ? { audit } : {}) } };
}
