/** The schema: imports each domain's GraphQL file for its side effect, then builds. */
import { builder } from './builder.js';
import { withMutationSavepoints } from '../graphql/mutation-savepoints.js';
import { withSynchronousNodeIds } from './node-ids.js';
import './tenancy.js';
import './viewer.js';
import './system.js';
import './accounts.js';
import './api-keys.js';
import './identity-providers.js';
import './members.js';
import './datasets.js';
import './ingestion.js';
import './models.js';
import './endpoints.js';
import './catalog.js';
import './endpoint-queries.js';
import './policies.js';
import './usage.js';
import './audit.js';
import './privacy.js';

export const schema = withMutationSavepoints(withSynchronousNodeIds(builder.toSchema({ sortSchema: true })));
