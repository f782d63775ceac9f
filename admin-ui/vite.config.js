// Builds the Admin UI into dist/, which is committed and embedded in the idp binary
// (idp/src/http/admin_ui.rs). The build must be reproducible: tests/browser/admin-build
// rebuilds it and compares.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/admin/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  css: {
    preprocessorOptions: {
      scss: { loadPaths: ['node_modules'], quietDeps: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Nothing inlined as data: URLs, so the page's CSP can stay strict.
    assetsInlineLimit: 0,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
});
