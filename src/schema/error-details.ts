/**
 * How the schema shows a coded error's details (platform/errors maps the rest): ids that
 * clients know as Relay global ids are given in that form.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { PresentDetails } from '../platform/errors/index.js';

/** Ids (or lists of ids) in error details that clients know as Relay global ids (the type they name). */
const GLOBAL_ID_DETAILS: Record<string, string> = { policyId: 'Policy', datasetIds: 'Dataset' };

function presented(type: string | undefined, value: unknown): unknown {
  if (!type) return value;
  if (typeof value === 'string') return encodeGlobalID(type, value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.map((id: string) => encodeGlobalID(type, id));
  return value;
}

export const presentErrorDetails: PresentDetails = (details) => Object.fromEntries(Object.entries(details).map(([key, value]) => [key, presented(GLOBAL_ID_DETAILS[key], value)]));
