// Stands in for node:assert in the bundle (scripts/bundle.mjs says why): the real module on the first call.
const real = () => require('node:assert');
export const notStrictEqual = (...args) => real().notStrictEqual(...args);
export const strictEqual = (...args) => real().strictEqual(...args);
export default (...args) => real()(...args);
