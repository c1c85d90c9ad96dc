/**
 * Parse once: a memo of the template parse, keyed by path and content. Every fix reads the
 * same files (the Compose template, the task files, the LiteLLM config), the engine re-checks
 * each fix on its own output and verify reads them again; without the memo the `yaml` parser
 * was the largest cost of a dry run. A file an edit changed has new content, so it is parsed
 * again; every other file is parsed once per run.
 *
 * The cached result is shared: callers read the documents, never change them (a test freezes
 * them and runs every fix and verify on the fixture). A parse error is cached too and thrown
 * again, the same file:line each time.
 */

interface Entry<T> {
  readonly result?: T;
  readonly error?: unknown;
  readonly size: number;
}

/** Least recently used first; bounded so a long-lived process (the test runner) stays small. */
export class ParseMemo<T> {
  private readonly entries = new Map<string, Map<string, Entry<T>>>();
  /** Recency order of (path, text) pairs: a Map iterates in insertion order. */
  private readonly order = new Map<Entry<T>, { path: string; text: string }>();
  private size = 0;
  private hitCount = 0;
  private missCount = 0;

  /** @param maxChars the total length of the texts kept parsed. */
  constructor(private readonly maxChars: number) {}

  get(path: string, text: string, parse: (path: string, text: string) => T): T {
    const byText = this.entries.get(path);
    let entry = byText?.get(text);
    if (entry) {
      this.hitCount++;
      this.order.delete(entry);
      this.order.set(entry, { path, text });
    } else {
      this.missCount++;
      try {
        entry = { result: parse(path, text), size: text.length };
      } catch (error) {
        entry = { error, size: text.length };
      }
      this.store(path, text, entry);
    }
    if ('error' in entry) throw entry.error;
    return entry.result as T;
  }

  /** Parses done and parses saved since the process started (or the last clear). */
  stats(): { hits: number; misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }

  clear(): void {
    this.entries.clear();
    this.order.clear();
    this.size = this.hitCount = this.missCount = 0;
  }

  private store(path: string, text: string, entry: Entry<T>): void {
    if (entry.size > this.maxChars) return;
    let byText = this.entries.get(path);
    if (!byText) this.entries.set(path, (byText = new Map()));
    byText.set(text, entry);
    this.order.set(entry, { path, text });
    this.size += entry.size;
    for (const [oldest, key] of this.order) {
      if (this.size <= this.maxChars) break;
      this.order.delete(oldest);
      const texts = this.entries.get(key.path);
      texts?.delete(key.text);
      if (texts?.size === 0) this.entries.delete(key.path);
      this.size -= oldest.size;
    }
  }
}
