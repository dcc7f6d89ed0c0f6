// Types for the type check of the console's scripts (tsconfig.json beside them): the page
// imports graphql-ws's browser client from ./vendor/graphql-ws/client.js, which serve.ts
// serves from the installed package; `rootDirs` lets that relative import find these types.
export * from 'graphql-ws/client';
