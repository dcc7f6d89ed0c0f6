/**
 * The OpenAPI 3.1 document of every REST route, composed from one part per route family:
 * each part's file sits beside its route's knowledge (paths and the schemas they use), and
 * this file only joins them. A route family added later is one import and one line in PARTS.
 * Two parts naming the same path or schema is a mistake caught when the document is built.
 */
import { accountPaths, accountSchemas } from './account-paths.js';
import { catalogPaths, catalogSchemas } from './catalog-paths.js';
import { securitySchemes, sharedSchemas, type JsonObject } from './components.js';
import { queryPaths, querySchemas } from './query-paths.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';

interface DocumentPart {
  paths: Record<string, JsonObject>;
  schemas: Record<string, JsonObject>;
}

const selfPaths: Record<string, JsonObject> = {
  [OPENAPI_PATH]: {
    get: {
      operationId: 'openApiDocument',
      summary: 'This document',
      tags: ['Meta'],
      security: [{}],
      responses: { '200': { description: 'The OpenAPI 3.1 document of the REST routes.', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
};

const PARTS: DocumentPart[] = [
  { paths: accountPaths, schemas: accountSchemas },
  { paths: queryPaths, schemas: querySchemas },
  { paths: catalogPaths, schemas: catalogSchemas },
  { paths: selfPaths, schemas: {} },
];

export function openApiDocument(parts: DocumentPart[] = PARTS): JsonObject {
  const paths: Record<string, JsonObject> = {};
  const schemas: Record<string, JsonObject> = { ...sharedSchemas };
  for (const part of parts) {
    for (const [path, item] of Object.entries(part.paths)) {
      if (paths[path]) throw new Error(`OpenAPI: two parts describe ${path}`);
      paths[path] = item;
    }
    for (const [name, schema] of Object.entries(part.schemas)) {
      if (schemas[name]) throw new Error(`OpenAPI: two parts define the schema ${name}`);
      schemas[name] = schema;
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice REST API',
      version: '1',
      description:
        'The REST routes of Sluice beside its GraphQL API (/graphql): sign-in, audit export, and asking endpoints. Errors of the endpoint routes are RFC 9457 problem details carrying the same codes as GraphQL (docs/errors.md).',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    tags: [
      { name: 'Endpoints', description: 'Asking published endpoints.' },
      { name: 'Catalog', description: 'Browsing the listed endpoints of every tenant.' },
      { name: 'Accounts', description: 'Signing in.' },
      { name: 'Audit', description: 'The tenant’s tamper-evident audit trail.' },
      { name: 'Meta', description: 'About this API.' },
    ],
    paths,
    components: { schemas, securitySchemes },
  };
}
