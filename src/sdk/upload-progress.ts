import { SluiceError } from './errors.js';
import { timedOut, tooLarge } from './limits.js';
import { redirectRefused } from './reach.js';

/** Bytes of the request body sent so far, of `total` (the whole body, multipart framing included). */
export type UploadProgress = (sent: number, total: number) => void;

/**
 * A POST whose body's sending can be watched: fetch has no upload progress, so this uses
 * XMLHttpRequest (browsers only; `request` falls back to fetch where there is none). Answers a
 * standard Response, so the caller reads it as it reads fetch's.
 */
export function postWithUploadProgress(
  url: string,
  init: { headers: Record<string, string>; body: string | FormData },
  onProgress: UploadProgress,
  limits: { maxResponseBytes: number; timeoutMs?: number },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const requestId = init.headers['x-request-id'] ?? null;
    xhr.open('POST', url);
    if (limits.timeoutMs) xhr.timeout = limits.timeoutMs;
    for (const [name, value] of Object.entries(init.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    // The answer is refused as it arrives past the bound, as fetch's is (limits.ts).
    xhr.onprogress = (event) => {
      if (event.loaded <= limits.maxResponseBytes) return;
      xhr.onabort = null;
      xhr.abort();
      reject(tooLarge(url, 'an answer', limits.maxResponseBytes, requestId));
    };
    xhr.ontimeout = () => reject(timedOut(url, limits.timeoutMs!, requestId));
    xhr.onload = () => {
      // XMLHttpRequest follows redirects and cannot be told not to (the browser's CORS checks
      // still apply to the new address): the body has gone, but the answer of another URL is
      // refused as reach() refuses a redirect, so the caller learns to use the final URL.
      if (xhr.responseURL && xhr.responseURL !== new URL(url, globalThis.location?.href).href) {
        reject(redirectRefused(url, 0, xhr.responseURL, xhr.getResponseHeader('x-request-id')));
        return;
      }
      const headers = new Headers();
      const requestId = xhr.getResponseHeader('x-request-id');
      if (requestId) headers.set('x-request-id', requestId);
      headers.set('content-type', xhr.getResponseHeader('content-type') ?? 'application/json');
      resolve(new Response(xhr.responseText, { status: xhr.status, headers }));
    };
    xhr.onerror = () => reject(new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: the upload did not get through`, {}));
    xhr.onabort = () => reject(new SluiceError('NETWORK_ERROR', `Cannot reach ${url}: the upload was aborted`, {}));
    xhr.send(init.body);
  });
}
