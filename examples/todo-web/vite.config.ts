import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The API the dev server and `vite preview` forward to (the local service by default).
const api = process.env.TODO_API ?? 'http://127.0.0.1:3000';
const proxy = Object.fromEntries(
  ['/lists', '/me', '/health', '/dev/token'].map((path) => [path, { target: api, changeOrigin: true }]),
);

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', sourcemap: false },
  server: { proxy },
  preview: { proxy },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
