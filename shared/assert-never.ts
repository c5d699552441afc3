/** Ends every switch over a union: adding a member breaks the build where it must be handled. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
