// The floor of a pod's memory, run by `npm run bench -- fleet` in its own process: Node with a
// Fastify server listening and an activity-only Temporal worker holding one poll on a queue of its
// own, and nothing else. Prints `ready` on stdout once both are up; runs until killed.
import Fastify from 'fastify';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main(): Promise<void> {
  const [address, taskQueue] = process.argv.slice(2);
  Runtime.install({ workerHeartbeatInterval: 0 });
  const app = Fastify();
  app.get('/status', async () => ({ status: 'running' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    activities: { noop: async () => undefined },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 },
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
