// An endpoint's live status as the daemon tells it (server/protocol/endpoints.ts), for the tests
// of what shows it: plain data, with the figures a test cares about given.
import type { EndpointStatus } from '../../server/protocol/endpoints.js';

export const T0 = 1_700_000_000_000;

export function endpointStatus(given: Partial<EndpointStatus> & Pick<EndpointStatus, 'name'>): EndpointStatus {
  return {
    engine: 'ollama',
    url: 'http://127.0.0.1:11434',
    up: true,
    down: null,
    inFlight: 0,
    concurrency: 4,
    answered: 0,
    errors: 0,
    hedged: 0,
    hedgesWon: 0,
    promptTokens: 0,
    completionTokens: 0,
    requestsPerSecond: null,
    meanLatencyMs: null,
    ...given,
  };
}

/** Two GPU boxes, one of them down, and vLLM: the pool the display tests show. */
export const POOL: EndpointStatus[] = [
  endpointStatus({
    name: 'ollama@gpu-a:11434',
    url: 'http://gpu-a:11434',
    inFlight: 3,
    concurrency: 4,
    answered: 1234,
    errors: 2,
    hedged: 6,
    hedgesWon: 5,
    promptTokens: 987_654,
    completionTokens: 43_210,
    requestsPerSecond: 2.46,
    meanLatencyMs: 1600,
  }),
  endpointStatus({
    name: 'ollama@gpu-b:11434',
    url: 'http://gpu-b:11434',
    up: false,
    down: { reason: 'connect ECONNREFUSED 10.0.0.2:11434', since: T0 - 90_000 },
    concurrency: 2,
    answered: 56,
    errors: 7,
    promptTokens: 40_000,
    completionTokens: 2_000,
  }),
  endpointStatus({
    name: 'vllm',
    engine: 'openai',
    url: 'http://vllm:8000/v1',
    inFlight: 16,
    concurrency: 16,
    answered: 20_001,
    requestsPerSecond: 12.5,
    promptTokens: 15_000_000,
    completionTokens: 700_000,
  }),
];
