/**
 * A bound on the upload bytes being received and processed at once, and on one client
 * address's part of it (attacker review stop45, F11: six parallel 94 MB uploads from one key
 * held 1.7 GB and stalled every caller for seconds). A multipart body is read into memory
 * whole before authentication and ingestion see it, so how many may be in flight is decided
 * here, on the length every request declares (body-limit.ts refuses bodies without one),
 * before a byte of it is read.
 *
 * A multipart request whose declared length would take the address past its share is refused
 * with 429 RATE_LIMITED; one that would take the whole budget past its bound, with 503
 * UNAVAILABLE. Both carry Retry-After. An admitted request's bytes come back when the server is
 * done with it (its handler has finished, whether or not the client is still there), or when
 * its body stalls (less than 64 KiB in SLUICE_UPLOAD_STALL_MS) and is cut. Other requests are
 * small (SLUICE_MAX_BODY_BYTES) and pass untouched.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import { ipIdentity } from '../rate-limits/bucket-keys.js';
import { refuse } from './body-limit.js';
import { clientIpOf } from './client-address.js';

export interface UploadBudgetOptions {
  /** Upload bytes in flight at once, over all callers. */
  maxBytes: number;
  /** Of those, at most this many from one client address (IPv6: one /64). */
  maxBytesPerAddress: number;
  trustProxyHops: number;
  /** An upload body gaining less than 64 KiB in this long is cut (SLUICE_UPLOAD_STALL_MS). */
  stallMs: number;
  /** Where the sluice_upload_bytes_in_flight gauge is served from (/metrics). */
  registry?: Registry;
}

/** A hint, not a promise: uploads in flight usually end within seconds. */
const RETRY_AFTER_SECONDS = 5;
/** Least progress an unfinished upload body makes in each `stallMs` (or all of it, if less) before it is cut. */
const STALL_BYTES = 64 * 1024;

export class UploadBudget {
  private total = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly options: UploadBudgetOptions) {
    const budget = this;
    if (options.registry) {
      new Gauge({
        name: 'sluice_upload_bytes_in_flight',
        help: 'Upload (multipart) bytes being received or processed now, against SLUICE_UPLOAD_BYTES_IN_FLIGHT',
        registers: [options.registry],
        collect() {
          this.set(budget.total);
        },
      });
    }
  }

  /** `next`, with multipart requests admitted against the budget and their bytes given back when each ends. */
  guard(next: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) return next(req, res);
      const bytes = Number(req.headers['content-length'] ?? 0);
      const address = ipIdentity(clientIpOf(req, this.options.trustProxyHops));
      const held = this.byAddress.get(address) ?? 0;
      if (held + bytes > this.options.maxBytesPerAddress) {
        return refuse(req, res, 'RATE_LIMITED', `Too many uploads from your address at once: ${held} bytes are still being received or processed. Retry when one ends.`, RETRY_AFTER_SECONDS);
      }
      if (this.total + bytes > this.options.maxBytes) {
        return refuse(req, res, 'UNAVAILABLE', 'The server is receiving as many uploads as it can hold: retry shortly.', RETRY_AFTER_SECONDS);
      }
      this.total += bytes;
      this.byAddress.set(address, held + bytes);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        clearInterval(watch);
        this.total -= bytes;
        const left = (this.byAddress.get(address) ?? bytes) - bytes;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      };
      // A body that stops arriving is cut: declared bytes held by a client that sends none
      // would keep everyone else's uploads out (review of 77b86ba). Read from the socket's
      // count, which consumes nothing.
      const start = req.socket.bytesRead;
      let seen = start;
      const watch = setInterval(() => {
        if (req.complete) return clearInterval(watch);
        const now = req.socket.bytesRead;
        // 64 KiB, or what is left of the body if less (counted from the request's arrival, when a
        // little of the body may be in already: what is left is never underestimated).
        if (now - seen < Math.max(1, Math.min(STALL_BYTES, bytes - (seen - start)))) {
          clearInterval(watch);
          req.destroy();
          return;
        }
        seen = now;
      }, this.options.stallMs);
      watch.unref();
      // Given back when the handler is done with the body, not when the client goes: a client
      // that hangs up after sending leaves the server parsing and storing what it sent. A body
      // that never arrived whole (cut, or the client gone midway) is nobody's work: given back
      // when its connection closes.
      res.once('close', () => {
        if (!req.complete) release();
      });
      const handled: unknown = next(req, res);
      if (typeof (handled as PromiseLike<void> | undefined)?.then === 'function') Promise.resolve(handled).then(release, release);
      else res.once('close', release);
    };
  }
}
