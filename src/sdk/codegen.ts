/**
 * The GraphQL Code Generator configuration the SDK's own documents are generated with, for
 * your operations too: `operationsCodegen({ documents, output })` in your `codegen.ts` gives
 * typed documents `createClient` runs exactly like the bundled ones (same client preset,
 * same scalars, required variables required). Plain data, no import of the generator: the
 * SDK does not depend on it, your project does (`@graphql-codegen/cli`,
 * `@graphql-codegen/client-preset`). See docs/sdk.md, "Your own operations".
 */

/** How the API's scalars travel: DateTime as ISO strings, files as Blobs (the GraphQL multipart request spec). */
export const SCALARS = { DateTime: 'string', JSONObject: 'Record<string, unknown>', SafeInt: 'number', File: 'Blob' } as const;

export interface OperationsCodegenOptions {
  /** Your `.graphql` operation files (globs). */
  documents: string | string[];
  /** The folder to generate into, ending in `/` (the client preset writes `graphql.ts`, `gql.ts`, `index.ts`). */
  output: string;
  /** The API's schema: the package's `schema.graphql`. @default 'node_modules/@sluice/sdk/schema.graphql' */
  schema?: string;
}

/** A `CodegenConfig` (of `@graphql-codegen/cli`) for operations against the Sluice API. */
export function operationsCodegen({ documents, output, schema = 'node_modules/@sluice/sdk/schema.graphql' }: OperationsCodegenOptions) {
  return {
    schema,
    documents,
    ignoreNoDocuments: true,
    // ESM: generated imports carry their .js extension.
    emitLegacyCommonJSImports: false,
    generates: {
      [output]: {
        preset: 'client' as const,
        presetConfig: { fragmentMasking: false },
        config: { useTypeImports: true, enumsAsTypes: true, scalars: { ...SCALARS }, strictScalars: true },
      },
    },
  };
}
