/**
 * GraphQL Code Generator. The schema source of truth is the Pothos code: `npm run codegen`
 * first prints it to schema.graphql (scripts/print-schema.ts), then generates the typed SDK's
 * document types from the operations under src/sdk/operations/.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/sdk/operations/**/*.graphql'],
  ignoreNoDocuments: true,
  // ESM: generated imports carry their .js extension.
  emitLegacyCommonJSImports: false,
  generates: {
    'src/sdk/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        // Over the wire: DateTime as ISO strings, files as Blobs (the GraphQL multipart request spec).
        scalars: { DateTime: 'string', JSONObject: 'Record<string, unknown>', SafeInt: 'number', File: 'Blob' },
        strictScalars: true,
      },
    },
  },
};

export default config;
