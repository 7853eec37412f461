// main.mjs - run every *.check.mjs in this folder (sorted) against one
// running Kreisel.  usage: node main.mjs BASE_URL ADMIN_PASSWORD
// KREISEL_BROWSER_ONLY=einvoice runs only einvoice.check.mjs (while working
// on one module; CI runs them all).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launch, makeTools } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [base, password] = process.argv.slice(2);

async function main() {
  const browser = await launch();
  const t = makeTools(base, password, browser);
  const only = process.env.KREISEL_BROWSER_ONLY;
  const checks = readdirSync(here)
    .filter((f) => f.endsWith('.check.mjs') && (!only || f === `${only}.check.mjs`)).sort();
  for (const file of checks) {
    console.log(`-- ${file}`);
    const mod = await import(pathToFileURL(join(here, file)));
    await mod.default(t);
  }
  await browser.close();
  if (t.failures.length) {
    console.log(`\n${t.failures.length} problems in the browser checks`);
    process.exit(1);
  }
  console.log(`browser checks passed (${checks.length} files); screenshots in tests/browser/artifacts/`);
}

main().catch((e) => { console.error(e); process.exit(1); });
