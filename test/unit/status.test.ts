import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canTransition, COMPUTE_STATUSES, CONFIGURE_ALLOWED, TERMINATE_ALLOWED } from '../../src/compute/status';
import { displayStatus, invalidStatusMessage } from '../../src/compute/texts';

describe('compute state machine (§3)', () => {
  test('every status has its snake_case and kebab-case form', () => {
    assert.equal(COMPUTE_STATUSES.length, 11);
    assert.equal(displayStatus('configuration_pending'), 'configuration-pending');
    assert.equal(displayStatus('refresh_configuration_pending'), 'refresh-configuration-pending');
    assert.equal(invalidStatusMessage('termination_pending_fast'), 'invalid compute status: termination-pending-fast');
  });

  test('legal transitions of the reference table', () => {
    const legal: [string, string][] = [
      ['empty', 'init'],
      ['empty', 'configuration_pending'],
      ['configuration_pending', 'init'],
      ['init', 'running'],
      ['init', 'failed'],
      ['running', 'configuration_pending'],
      ['configuration_pending', 'configuration'],
      ['configuration', 'running'],
      ['configuration', 'failed'],
      ['running', 'termination_pending_fast'],
      ['empty', 'termination_pending_immediate'],
      ['termination_pending_fast', 'terminated'],
      ['refresh_configuration', 'running'],
    ];
    for (const [from, to] of legal) assert.ok(canTransition(from as never, to as never), `${from} -> ${to}`);
  });

  test('illegal transitions are refused', () => {
    const illegal: [string, string][] = [
      ['empty', 'running'],
      ['init', 'configuration_pending'],
      ['terminated', 'init'],
      ['terminated', 'running'],
      ['failed', 'configuration_pending'],
      ['termination_pending_fast', 'running'],
      ['configuration', 'configuration_pending'],
    ];
    for (const [from, to] of illegal) assert.equal(canTransition(from as never, to as never), false, `${from} -> ${to}`);
  });

  test('/configure only from empty and running; /terminate also from failed', () => {
    assert.deepEqual([...CONFIGURE_ALLOWED], ['empty', 'running']);
    assert.deepEqual([...TERMINATE_ALLOWED], ['empty', 'running', 'failed']);
  });
});
