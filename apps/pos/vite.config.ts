import { defineConfig } from 'vite';
import { posViteConfig } from './src/node/vite-config';

/** `npm run build -w @loam/pos` / `npm run dev -w @loam/pos`: the app without the demo relay (`npm start` has it). */
export default defineConfig(posViteConfig({ port: 4173 }));
