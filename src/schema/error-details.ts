/**
 * How the schema shows a coded error's details (platform/errors maps the rest): ids that
 * clients know as Relay global ids are given in that form.
 */
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { PresentDetails } from '../platform/errors/index.js';

/** Ids in error details that clients know as Relay global ids (the type they name). */
const GLOBAL_ID_DETAILS: Record<string, string> = { policyId: 'Policy' };

export const presentErrorDetails: PresentDetails = (details) =>
  Object.fromEntries(
    Object.entries(details).map(([key, value]) => [key, GLOBAL_ID_DETAILS[key] && typeof value === 'string' ? encodeGlobalID(GLOBAL_ID_DETAILS[key], value) : value]),
  );
