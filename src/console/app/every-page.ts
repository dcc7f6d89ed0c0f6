/**
 * Reading a whole connection, 100 nodes a request, for the console's pickers: a form that offers
 * a tenant's datasets, models or endpoints must offer all of them, not the first page.
 */

/** What a page of a connection gives: its nodes and where the next page starts. */
export interface ConnectionPage<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** The cursor of the page after `page`, or undefined when it was the last. */
export function nextCursor(page: ConnectionPage<unknown>): string | undefined {
  return page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? undefined) : undefined;
}

/** Every node of a connection, asking `page` for one page after another. */
export async function everyPage<T>(page: (after: string | undefined) => Promise<ConnectionPage<T>>): Promise<T[]> {
  const nodes: T[] = [];
  let after: string | undefined;
  do {
    const found = await page(after);
    nodes.push(...found.edges.map((edge) => edge.node));
    after = nextCursor(found);
  } while (after);
  return nodes;
}
