// Failure types the API maps to HTTP statuses.
export const FAILURE = {
  invalidStatus: 'InvalidComputeStatus',
  badRequest: 'BadRequest',
  configurationFailed: 'ConfigurationFailed',
} as const;
