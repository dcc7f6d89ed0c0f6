/** `sluice query <tenant/endpoint> "question"`: passages, then the answer as it streams. */
import { EndpointQueryDocument, type EndpointQuerySubscription } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { writeText } from '../terminal-text.js';
import { numberOption } from './lookup.js';

type Event = EndpointQuerySubscription['endpointQuery'];
type Passage = Extract<Event, { __typename: 'EndpointQueryRetrieved' }>['passage'];

export const query: Command = {
  name: 'query',
  summary: 'ask an endpoint; the answer streams in',
  usage: '<tenant/endpoint> "<question>" [--top-k <n>] [--min-score <x>]',
  help: `Asks a published endpoint (or one of your tenant's) over a subscription: prints each
retrieved passage, then the model's answer as it is written, then its citations and cost.
With --json, prints one JSON document at the end: passages (each with its highlight and the
ranks the keyword and semantic rankings gave it), answer, citations, usage.`,
  options: { 'top-k': { type: 'string' }, 'min-score': { type: 'string' } },
  async run(cli, args, values) {
    const [endpoint, ...words] = args;
    const question = words.join(' ').trim();
    if (!endpoint || !endpoint.includes('/') || !question) throw new CliError('give the endpoint as tenant/endpoint and a question', EXIT.usage);
    const options = { topK: numberOption(values['top-k'], '--top-k'), minScore: numberOption(values['min-score'], '--min-score') };
    const passages: Passage[] = [];
    let answer = '';
    let streaming = false;
    const result: Record<string, unknown> = {};
    // Titles, passages and answers come from documents and models: shown, never obeyed by the terminal.
    const write = (text: string) => writeText(cli.stdout, text);
    for await (const { endpointQuery: event } of cli.client().subscribe(EndpointQueryDocument, { endpoint, query: question, options })) {
      switch (event.__typename) {
        case 'EndpointQueryRetrieved':
          passages.push(event.passage);
          if (!cli.json) write(`[${event.passage.rank}] ${event.passage.documentTitle} (score ${event.passage.score.toFixed(3)})\n    ${oneLine(event.passage.text, 200)}\n`);
          break;
        case 'EndpointQueryAnswerDelta':
          if (!cli.json && !streaming) write('\nAnswer: ');
          streaming = true;
          answer += event.text;
          if (!cli.json) write(event.text);
          break;
        case 'EndpointQueryUsage':
          result.usage = event.usage;
          break;
        case 'EndpointQueryCompleted':
          Object.assign(result, { answer: event.answer ?? answer, citations: event.citations, latencyMs: event.latencyMs });
          if (!cli.json) {
            if (!streaming && event.answer) write(`\nAnswer: ${event.answer}`);
            const cited = event.citations.map((citation) => `[${citation.marker}] ${citation.documentTitle}`).join(', ');
            write(`\n\n${event.citations.length ? `Sources: ${cited}\n` : ''}(${event.latencyMs} ms)\n`);
          } else cli.print('', { passages, ...result });
          return EXIT.ok;
        case 'EndpointQueryFailed':
          if (streaming && !cli.json) write('\n');
          throw new CliError(`${event.code}: ${event.message}`, EXIT.failed);
      }
    }
    throw new CliError('the answer stream ended before the answer was complete', EXIT.failed);
  },
};

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
