/**
 * What an endpoint can be made of: the tenant's first 100 datasets (with whether they embed)
 * and its models, for the new-endpoint form and the edit dialog.
 */
import { useEffect, useState } from 'react';
import { ConsoleEndpointPartsDocument, type ConsoleEndpointPartsQuery } from '../../../../sdk/index.js';
import { useSession } from '../../session.js';

export function useEndpointParts(fail: (error: unknown) => void): ConsoleEndpointPartsQuery | undefined {
  const { call } = useSession();
  const [parts, setParts] = useState<ConsoleEndpointPartsQuery | undefined>();
  useEffect(() => {
    call((client) => client.query(ConsoleEndpointPartsDocument, {})).then(setParts, fail);
  }, [call, fail]);
  return parts;
}

/** The chat models among them (what an endpoint answers with). */
export function chatModelsOf(parts: ConsoleEndpointPartsQuery | undefined): { id: string; name: string }[] {
  return parts?.models.edges.map((edge) => edge.node).filter((model) => model.kind === 'CHAT') ?? [];
}
