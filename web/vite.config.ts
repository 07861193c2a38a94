import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by `georep serve` from the built dist/ directory; in development,
// `npm run dev` proxies the API to an engine on the default address.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8470' },
  },
});
