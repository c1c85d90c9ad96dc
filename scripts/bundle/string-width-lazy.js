// Stands in for string-width in the bundle (scripts/bundle.mjs says why): the real module, and
// the Intl.Segmenter and regular expressions it builds when loaded, only on the first call.
let stringWidth;
export default function lazyStringWidth(text, options) {
  stringWidth ??= require('string-width').default;
  return stringWidth(text, options);
}
