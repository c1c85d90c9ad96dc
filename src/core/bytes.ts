/**
 * Files as text without losing a byte. The engine and the patch modules work on strings, but a
 * repository may hold a file that is not valid UTF-8 (a Latin-1 `# René`): decoding it the
 * usual way turns each invalid byte into U+FFFD, and writing the result back changes bytes
 * nobody asked to change. decodeLossless maps each byte that is not part of valid UTF-8 to a
 * lone low surrogate U+DC80–U+DCFF (as Python's "surrogateescape" does), which valid UTF-8
 * never decodes to; encodeLossless turns exactly those back into the original bytes.
 */

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeLossless(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (!text.includes('\uFFFD')) return text;
  try {
    strictDecoder.decode(bytes);
    return text; // valid UTF-8 that holds U+FFFD itself
  } catch {
    return decodeEscaping(bytes);
  }
}

function decodeEscaping(bytes: Uint8Array): string {
  const out: string[] = [];
  let index = 0;
  while (index < bytes.length) {
    const first = bytes[index] ?? 0;
    if (first < 0x80) {
      out.push(String.fromCharCode(first));
      index++;
      continue;
    }
    const [length, min, initial] =
      first >= 0xf0 && first <= 0xf4
        ? [4, 0x10000, first & 0x07]
        : first >= 0xe0 && first <= 0xef
          ? [3, 0x800, first & 0x0f]
          : first >= 0xc2 && first <= 0xdf
            ? [2, 0x80, first & 0x1f]
            : [0, 0, 0];
    let codePoint = initial;
    let valid = length > 0 && index + length <= bytes.length;
    for (let offset = 1; valid && offset < length; offset++) {
      const next = bytes[index + offset] ?? 0;
      if ((next & 0xc0) !== 0x80) valid = false;
      else codePoint = (codePoint << 6) | (next & 0x3f);
    }
    if (valid && codePoint >= min && codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      out.push(String.fromCodePoint(codePoint));
      index += length;
    } else {
      out.push(String.fromCharCode(0xdc00 + first));
      index++;
    }
  }
  return out.join('');
}

const ESCAPED_BYTE = /[\uDC80-\uDCFF]/;

export function encodeLossless(text: string): Buffer {
  if (!ESCAPED_BYTE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0xdc80 || unit > 0xdcff) continue;
    const previous = index > 0 ? text.charCodeAt(index - 1) : 0;
    if (previous >= 0xd800 && previous <= 0xdbff) continue; // the second half of a real surrogate pair
    parts.push(Buffer.from(text.slice(start, index), 'utf8'), Buffer.from([unit - 0xdc00]));
    start = index + 1;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}
