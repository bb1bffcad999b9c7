// The floor of a worker's boot (`npm run bench -- boot`): a bare Node process that loads Fastify and
// answers GET /status on the port it is given, and nothing else. Runs until killed.
import Fastify from 'fastify';

async function main(): Promise<void> {
  const app = Fastify();
  app.get('/status', async () => ({ status: 'empty' }));
  await app.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
