/**
 * `npm run demo`: the mock IdP, the inventory service and the API on 127.0.0.1, with the URLs and
 * demo users printed. Ctrl+C closes all three. Configuration comes from the environment (and from
 * demo-app/.env when present; see .env.example); a bad value stops here with the variable's name.
 */
import { existsSync } from 'node:fs';
import { loadEnvFile } from 'node:process';
import { fileURLToPath } from 'node:url';
import { banner } from './banner.js';
import { DemoConfigError } from './env.js';
import { startDemo, type DemoHandle } from './demo.js';

const ENV_FILE = fileURLToPath(new URL('./.env', import.meta.url));

async function main(): Promise<void> {
  if (existsSync(ENV_FILE)) {
    // Variables already set in the shell win over the file.
    loadEnvFile(ENV_FILE);
    console.log('loaded demo-app/.env');
  }
  let demo: DemoHandle;
  try {
    demo = await startDemo({ log: (line) => console.log(line) });
  } catch (err) {
    if (err instanceof DemoConfigError) {
      console.error(`demo: bad configuration: ${err.message}`);
      console.error('See demo-app/.env.example for every variable.');
      process.exit(1);
    }
    throw err;
  }
  for (const line of banner(demo)) console.log(line);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl+C does not wait
    stopping = true;
    console.log(`\n${signal}: closing the API, the inventory service and the IdP...`);
    demo.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('demo: failed to start:', err);
  process.exit(1);
});
