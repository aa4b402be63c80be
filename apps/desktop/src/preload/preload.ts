/**
 * The preload script: runs sandboxed in the renderer before the POS app and exposes `window.loamDesktop`
 * ({@link LoamDesktopApi}) through `contextBridge`. It is bundled into one file, because a sandboxed preload
 * can require nothing but `electron`.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { DESKTOP_API_NAME, type LoamDesktopApi, PEERS_EVENT_CHANNEL } from '../shared/contract';
import { createDesktopApi } from './desktop-api';

const api: LoamDesktopApi = createDesktopApi(
  (channel, ...args) => ipcRenderer.invoke(channel, ...args),
  (listener) => {
    const handler = (_event: unknown, payload: unknown) => listener(payload);
    ipcRenderer.on(PEERS_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.off(PEERS_EVENT_CHANNEL, handler);
    };
  },
);
contextBridge.exposeInMainWorld(DESKTOP_API_NAME, api);
