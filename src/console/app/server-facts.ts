/**
 * What the server that served this page offers beyond the API, read from the page's `<meta>`
 * elements (written by ../serve.ts): nothing inline, nothing to ask over the network.
 */

/** Where GraphiQL is served, or undefined where it is not (production by default). */
export function graphiqlPath(): string | undefined {
  const content = document.querySelector<HTMLMetaElement>('meta[name="sluice-graphiql"]')?.content;
  return content?.startsWith('/') ? content : undefined;
}
