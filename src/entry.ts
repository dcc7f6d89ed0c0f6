/**
 * What `bin/sluice.js` runs: client commands load only the CLI and the SDK (quick to start);
 * everything else loads the server (src/main.ts).
 */
import { isClientCommand, runCli } from './cli/index.js';

const argv = process.argv.slice(2);
if (isClientCommand(argv)) process.exitCode = await runCli(argv);
else await import('./main.js');
