/**
 * GraphQL Code Generator. The schema source of truth is the Pothos code: `npm run codegen`
 * first prints it to schema.graphql (scripts/print-schema.ts), then generates the typed SDK's
 * document types from the operations under src/sdk/operations/, with the configuration the
 * SDK offers its users for their own operations (src/sdk/codegen.ts).
 */
import type { CodegenConfig } from '@graphql-codegen/cli';
import { operationsCodegen } from './src/sdk/codegen.js';

const config: CodegenConfig = operationsCodegen({ schema: 'schema.graphql', documents: ['src/sdk/operations/**/*.graphql'], output: 'src/sdk/generated/' });

export default config;
