/** What one verify check concludes. */
export type CheckStatus = 'ok' | 'failed' | 'not-checked' | 'not-applicable';

export interface Outcome {
  readonly status: CheckStatus;
  /** For `failed`: what is wrong, with `file:line`; otherwise a short account. */
  readonly message: string;
}

export const ok = (message: string): Outcome => ({ status: 'ok', message });
export const failed = (message: string): Outcome => ({ status: 'failed', message });
export const notApplicable = (message: string): Outcome => ({ status: 'not-applicable', message });
export const notChecked = (message: string): Outcome => ({ status: 'not-checked', message });

/** One failure listing every problem, else the outcome given. */
export function failedOr(problems: readonly string[], otherwise: Outcome): Outcome {
  return problems.length > 0 ? failed(problems.join('; ')) : otherwise;
}
