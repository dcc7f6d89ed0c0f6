/**
 * The playground: ask an endpoint (yours by slug, or any `tenant/slug` you may ask) and watch
 * the answer stream over the SDK's subscription (`endpointQuery`, graphql-ws to this page's own
 * server): each passage as it is retrieved, with its score and where each ranking (keyword,
 * semantic) placed it, then the answer piece by piece (at most every 50 ms: answer-pieces.ts),
 * then its citations, usage and latency.
 * **Stop** ends the subscription, which cancels the model's answer on the server.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import { useSearchParams } from 'react-router';
import { ConsoleAskDocument, GovernEndpointsDocument, type ConsoleAskSubscription } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { everyPage } from '../../every-page.js';
import { useSession } from '../../session.js';
import { SluiceError } from '../../sluice.js';
import { useAnswerPieces } from './answer-pieces.js';
import { MyAllowance } from './my-allowance.js';
import { Passages, type RetrievedPassage } from './passages.js';

type Event = ConsoleAskSubscription['endpointQuery'];
type Completed = Extract<Event, { __typename: 'EndpointQueryCompleted' }>;
type Usage = Extract<Event, { __typename: 'EndpointQueryUsage' }>['usage'];

interface Asked {
  /** The endpoint asked, as `tenant/slug`. */
  reference: string;
  /** Counts questions, so that the caller's usage is read again after each. */
  number: number;
  state: 'streaming' | 'done' | 'stopped' | 'failed';
  passages: RetrievedPassage[];
  answer: string;
  completed?: Completed;
  usage?: Usage;
}

export function Playground() {
  const { call, signedIn } = useSession();
  const [params, setParams] = useSearchParams();
  const [endpoint, setEndpoint] = useState(params.get('endpoint') ?? '');
  const [question, setQuestion] = useState('');
  const [own, setOwn] = useState<string[]>([]);
  const [asked, setAsked] = useState<Asked | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const stream = useRef<AsyncIterableIterator<unknown> | undefined>(undefined);
  const pieces = useAnswerPieces((text) => setAsked((current) => (current ? { ...current, answer: current.answer + text } : current)));

  const loadOwn = useCallback(async () => {
    try {
      // Every page, 100 a request: the 150th endpoint is suggested as the first is.
      const endpoints = await call((client) => everyPage((after) => client.query(GovernEndpointsDocument, { first: 100, after }).then((found) => found.endpoints)));
      setOwn(endpoints.map((node) => node.reference));
    } catch (error) {
      fail(error);
    }
  }, [call, fail]);
  useEffect(() => void loadOwn(), [loadOwn]);
  // Leaving the view ends a question still streaming.
  useEffect(() => () => void stream.current?.return?.(), []);

  const ask = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const address = endpoint.trim();
    // A bare slug is one of your tenant's endpoints, as everywhere else.
    const reference = address.includes('/') || !signedIn ? address : `${signedIn.tenant.slug}/${address}`;
    setParams(address ? { endpoint: address } : {}, { replace: true });
    await stream.current?.return?.();
    pieces.discard();
    dismiss();
    setAsked((previous) => ({ reference, number: (previous?.number ?? 0) + 1, state: 'streaming', passages: [], answer: '' }));
    const update = (change: (current: Asked) => Asked) => setAsked((current) => (current ? change(current) : current));
    try {
      await call(async (client) => {
        const events = client.subscribe(ConsoleAskDocument, { endpoint: reference, query: question });
        stream.current = events;
        for await (const { endpointQuery: next } of events) {
          switch (next.__typename) {
            case 'EndpointQueryRetrieved':
              update((current) => ({ ...current, passages: [...current.passages, next.passage] }));
              break;
            case 'EndpointQueryAnswerDelta':
              pieces.add(next.text);
              break;
            case 'EndpointQueryUsage':
              update((current) => ({ ...current, usage: next.usage }));
              break;
            case 'EndpointQueryCompleted':
              pieces.discard();
              update((current) => ({ ...current, state: 'done', answer: next.answer, completed: next }));
              break;
            case 'EndpointQueryFailed':
              pieces.flush();
              update((current) => ({ ...current, state: 'failed' }));
              fail(new SluiceError(next.code, next.message, {}));
              break;
          }
        }
      });
      pieces.flush();
      update((current) => (current.state === 'streaming' ? { ...current, state: 'stopped' } : current));
    } catch (error) {
      pieces.flush();
      update((current) => ({ ...current, state: 'failed' }));
      fail(error);
    } finally {
      stream.current = undefined;
    }
  };

  const stop = () => {
    void stream.current?.return?.();
    pieces.flush();
    setAsked((current) => (current?.state === 'streaming' ? { ...current, state: 'stopped' } : current));
  };

  const streaming = asked?.state === 'streaming';
  return (
    <>
      <h1 className="h3">Playground</h1>
      <p className="text-body-secondary">Ask an endpoint as its callers do: the passages it finds, then the answer as the model writes it.</p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="The question was not answered" />
      <Form onSubmit={ask} className="narrow mb-4" id="ask-form">
        <Form.Group className="mb-3" controlId="ask-endpoint">
          <Form.Label>Endpoint</Form.Label>
          <Form.Control value={endpoint} onChange={(event) => setEndpoint(event.target.value)} list="own-endpoints" required aria-describedby="ask-endpoint-help" />
          <datalist id="own-endpoints">
            {own.map((reference) => (
              <option key={reference} value={reference} />
            ))}
          </datalist>
          <Form.Text id="ask-endpoint-help">tenant/slug, or just the slug of one of yours{own.length === 0 ? ' (you have none yet: create one under Endpoints)' : ''}.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="ask-question">
          <Form.Label>Question</Form.Label>
          <Form.Control as="textarea" rows={2} value={question} onChange={(event) => setQuestion(event.target.value)} required />
        </Form.Group>
        <div className="d-flex gap-2">
          <Button type="submit" disabled={streaming || !endpoint.trim() || !question.trim()}>
            Ask
          </Button>
          <Button variant="outline-secondary" onClick={stop} disabled={!streaming}>
            Stop
          </Button>
        </div>
      </Form>
      {asked ? <Answer asked={asked} /> : null}
      {asked && asked.state !== 'streaming' ? <MyAllowance reference={asked.reference} asked={asked.number} /> : null}
    </>
  );
}

function Answer({ asked }: { asked: Asked }) {
  const { state, passages, answer, completed, usage } = asked;
  const said = { streaming: 'Answering…', done: `Answered in ${completed?.latencyMs ?? '?'} ms`, stopped: 'Stopped', failed: 'Not answered' }[state];
  return (
    <div className="playground-result">
      <section aria-labelledby="answer-title" className="mb-4">
        <h2 id="answer-title" className="h5">
          Answer <span className="small text-body-secondary fw-normal" id="answer-state" data-state={state} role="status">{said}</span>
        </h2>
        <Card body aria-busy={state === 'streaming'}>
          <p className="mb-0 answer-text" id="answer">
            {answer || (state === 'streaming' ? '…' : '')}
          </p>
        </Card>
        {completed && completed.citations.length > 0 ? (
          <p className="small mt-2 mb-0" id="citations">
            Cites {completed.citations.map((citation) => `[${citation.marker}] ${citation.documentTitle}`).join(', ')}
          </p>
        ) : null}
        {usage ? (
          <p className="small text-body-secondary mb-0" id="usage">
            {usage.promptTokens} prompt + {usage.completionTokens} completion tokens{usage.costMicros ? `, cost ${usage.costMicros} micro-units` : ''}
          </p>
        ) : null}
      </section>
      <Passages passages={passages} streaming={state === 'streaming'} />
    </div>
  );
}
