/**
 * What an endpoint can be made of: every dataset of the tenant (with whether it embeds) and its
 * models, for the new-endpoint form and the edit dialog. Read 100 of each a request until both
 * connections are read, so a tenant with more than 100 datasets can still choose any of them.
 */
import { useEffect, useState } from 'react';
import { ConsoleEndpointPartsDocument, type ConsoleEndpointPartsQuery } from '../../../../sdk/index.js';
import { nextCursor } from '../../every-page.js';
import { useSession } from '../../session.js';

type DatasetPart = ConsoleEndpointPartsQuery['datasets']['edges'][number]['node'];
type ModelPart = ConsoleEndpointPartsQuery['models']['edges'][number]['node'];

export interface EndpointParts {
  datasets: DatasetPart[];
  models: ModelPart[];
}

export function useEndpointParts(fail: (error: unknown) => void): EndpointParts | undefined {
  const { call } = useSession();
  const [parts, setParts] = useState<EndpointParts | undefined>();
  useEffect(() => {
    call(async (client) => {
      const read: EndpointParts = { datasets: [], models: [] };
      // Both connections in one request while both have pages left; a finished one is not asked
      // again (its first page would come back without a cursor) once the other goes on alone.
      let datasetsAfter: string | undefined;
      let modelsAfter: string | undefined;
      let datasetsLeft = true;
      let modelsLeft = true;
      while (datasetsLeft || modelsLeft) {
        const page = await client.query(ConsoleEndpointPartsDocument, { datasetsAfter, modelsAfter });
        if (datasetsLeft) {
          read.datasets.push(...page.datasets.edges.map((edge) => edge.node));
          datasetsAfter = nextCursor(page.datasets);
          datasetsLeft = datasetsAfter !== undefined;
        }
        if (modelsLeft) {
          read.models.push(...page.models.edges.map((edge) => edge.node));
          modelsAfter = nextCursor(page.models);
          modelsLeft = modelsAfter !== undefined;
        }
      }
      return read;
    }).then(setParts, fail);
  }, [call, fail]);
  return parts;
}

/** The chat models among them (what an endpoint answers with). */
export function chatModelsOf(parts: EndpointParts | undefined): { id: string; name: string }[] {
  return parts?.models.filter((model) => model.kind === 'CHAT') ?? [];
}
