/**
 * How a mutation's input field says what to change: omitted keeps what is stored, null clears
 * it, a value sets it.
 */

/**
 * What an input field asks for: `undefined` when it was omitted (keep the stored value), `null`
 * when it was given as null (clear it), else the value, through `map` if given (a global id to
 * its raw id). Omitted is read as `=== undefined`, never with `'field' in input`: the
 * validation plugin puts every validated field in `input`, omitted ones as undefined, so a field
 * that gets a bound later reads as "given" and its stored value is cleared (updateModel removed
 * the model's key on every update once apiKey got its length bound).
 */
export function changeOf<T, R = T>(value: T | null | undefined, map?: (value: T) => R): R | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  return map ? map(value) : (value as unknown as R);
}
