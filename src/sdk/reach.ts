import { SluiceError } from './errors.js';

/** fetch, with a failure to connect as a SluiceError (`NETWORK_ERROR`) like any other. */
export async function reach(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {});
  }
}
