// The Admin UI's committed build (admin-ui/dist, embedded in the idp binary) is exactly
// what its source builds to, so the two cannot drift apart; and every text of the console
// exists in each of its four languages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ui = resolve(fileURLToPath(import.meta.url), '../../../admin-ui');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

test('the committed build is what the source builds to', () => {
  const vite = join(ui, 'node_modules/vite/bin/vite.js');
  assert.ok(existsSync(vite), 'admin-ui/node_modules is installed (cd admin-ui && npm ci)');
  const out = mkdtempSync(join(tmpdir(), 'admin-ui-'));
  try {
    const r = spawnSync(process.execPath, [vite, 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: ui, encoding: 'utf8' });
    assert.equal(r.status, 0, `vite build failed: ${r.stderr}`);
    const committed = join(ui, 'dist');
    const built = files(out).map((f) => relative(out, f)).sort();
    assert.deepEqual(files(committed).map((f) => relative(committed, f)).sort(), built,
      'admin-ui/dist has the files the build makes: run `npm run build` in admin-ui and commit dist/');
    for (const f of built) {
      assert.ok(readFileSync(join(committed, f)).equals(readFileSync(join(out, f))), `admin-ui/dist/${f} is up to date`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('every text of the console is in English, Hungarian, Russian and Kazakh', async () => {
  const { messages } = await import(join(ui, 'src/messages.js'));
  const keys = Object.keys(messages.en);
  assert.ok(keys.length > 100);
  for (const lang of ['hu', 'ru', 'kk']) {
    assert.deepEqual(keys.filter((k) => !messages[lang][k]), [], `missing in ${lang}`);
    assert.deepEqual(Object.keys(messages[lang]).filter((k) => !(k in messages.en)), [], `unknown keys in ${lang}`);
    // The same placeholders, so that no value goes missing in a translation.
    for (const k of keys) {
      const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(names(messages[lang][k]), names(messages.en[k]), `${lang} ${k}`);
    }
  }

  // Every key the pages ask for by name exists.
  const used = files(join(ui, 'src')).filter((f) => /\.jsx?$/.test(f))
    .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bt\('([^']+)'/g)].map((m) => m[1]));
  assert.deepEqual([...new Set(used)].filter((k) => !(k in messages.en)), [], 'texts used but not written');
});
