// Writes beside each compressible file of the built console (js, css, html, svg, json, map) a
// brotli copy, NAME.br (quality 11, the highest), and a gzip copy, NAME.gz (level 9), which
// `georep serve` sends to browsers that accept them (src/http/static_file.h); compressed once
// here, at the highest settings, instead of on every request. A copy that would not be smaller
// than its file is not written: the engine then sends the file.
//
// Why Node's own zlib, and not a vite plugin from npm or Debian's brotli and gzip commands:
// Node builds the console already and its zlib has both codings at their highest settings, so
// nothing new enters the build -- no npm package and its dependencies to pin and audit, no
// Debian package to install (`brotli` is not on a machine set up for georep).
//
//   node precompress.mjs DIST   (run by `npm run build`, after vite)
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const compressible = /\.(js|css|html|svg|json|map)$/i;

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(p);
    else if (entry.isFile() && compressible.test(entry.name)) yield p;
  }
}

// Writes `bytes` to `file` when smaller than the original's `size`; else removes any old copy.
function writeIfSmaller(file, bytes, size) {
  if (bytes.length < size) {
    writeFileSync(file, bytes);
    return bytes.length;
  }
  rmSync(file, { force: true });
  return size;
}

const dist = process.argv[2];
if (!dist) {
  console.error('usage: node precompress.mjs DIST');
  process.exit(2);
}
const totals = { files: 0, raw: 0, gzip: 0, br: 0 };
for (const file of files(dist)) {
  const raw = readFileSync(file);
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
  totals.files += 1;
  totals.raw += raw.length;
  totals.br += writeIfSmaller(`${file}.br`, br, raw.length);
  totals.gzip += writeIfSmaller(`${file}.gz`, gz, raw.length);
}
console.log(`precompress: ${totals.files} files, ${totals.raw} bytes; gzip ${totals.gzip}, brotli ${totals.br}`);
