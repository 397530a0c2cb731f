// The startup benchmark's floor: a fresh Node process that opens PGlite on a directory, then exits.
import { PGlite } from '@electric-sql/pglite';

const pglite = await PGlite.create(process.argv[2]);
await pglite.query('SELECT 1');
process.stdout.write('open\n');
await pglite.close();
