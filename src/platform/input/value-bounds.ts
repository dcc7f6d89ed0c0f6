/**
 * How much a caller-supplied structure (an operation's variables) may hold before anything walks
 * it: every reader after the parser (the NUL check, variable coercion, the cost model, audit)
 * visits each value, and a 1 MiB body holds 450 000 of them: one anonymous request with a list
 * of zeros it never used held the event loop for a second. Counted here first, stopping at the
 * first value over the bound, so a refusal costs no more than the bound.
 */

export interface ValueBounds {
  /** Most values in all: each scalar, list and object counts one, at any depth. */
  maxValues: number;
  /** Most levels of lists and objects, the structure itself being the first. */
  maxDepth: number;
}

/** Which bound `value` goes past (`values` first found wins), or null when it holds within both. */
export function exceededBound(value: unknown, { maxValues, maxDepth }: ValueBounds): 'values' | 'depth' | null {
  let count = 0;
  // Recursion is bounded by maxDepth (the walk refuses before going deeper), so the stack is too;
  // `for…in` stops where the count does, without a list of the keys of an object of 90 000 keys.
  const walk = (container: object, depth: number): 'values' | 'depth' | null => {
    if (depth > maxDepth) return 'depth';
    const array = Array.isArray(container);
    const length = array ? container.length : 0;
    if (array && count + length > maxValues) return 'values';
    if (array) {
      count += length;
      for (let index = 0; index < length; index += 1) {
        const element: unknown = container[index];
        if (isContainer(element)) {
          const found = walk(element, depth + 1);
          if (found) return found;
        }
      }
      return null;
    }
    for (const key in container) {
      if (!Object.hasOwn(container, key)) continue;
      count += 1;
      if (count > maxValues) return 'values';
      const element: unknown = (container as Record<string, unknown>)[key];
      if (isContainer(element)) {
        const found = walk(element, depth + 1);
        if (found) return found;
      }
    }
    return null;
  };
  return isContainer(value) ? walk(value, 1) : null;
}

/** A list or a plain object (JSON's): an uploaded file or a date is one value, not walked. */
function isContainer(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
