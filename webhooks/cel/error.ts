// Apart from compile.ts so that catching it does not load the CEL implementation (see index.ts).

/** A compile or evaluation failure; the message is what kube reports for it. */
export class CELError extends Error {}
