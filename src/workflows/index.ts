// The workflow bundle's entry point: every workflow type the worker registers.
export { computeLifecycle } from './lifecycle';
export { computeStartup } from './startup';
export { computeReconfigure } from './reconfigure';
export { computeTermination } from './termination';
export { computePromotion } from './promotion';
export { lsnLease } from './lease';
