import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The Keyway server the dev server forwards API calls to (`keyway serve` listens on 3000 by default). */
const target = process.env.KEYWAY_DEV_TARGET ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/v1', '/hooks'].map((prefix) => [prefix, { target, changeOrigin: false }]),
    ),
  },
});
