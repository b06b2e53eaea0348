// Preloaded (`node -r`) into benchmarked child processes: on exit, writes the
// process's peak resident set size (KiB) to the file named by BENCH_RSS_FILE.
'use strict';
const fs = require('node:fs');
const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => fs.writeFileSync(file, String(process.resourceUsage().maxRSS)));
