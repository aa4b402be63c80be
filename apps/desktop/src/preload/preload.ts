/**
 * The preload script: runs sandboxed in the renderer before the POS app and exposes `window.loamDesktop`
 * ({@link LoamDesktopApi}) through `contextBridge`. It is bundled into one file, because a sandboxed preload
 * can require nothing but `electron`.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { DESKTOP_API_NAME, type LoamDesktopApi } from '../shared/contract';
import { createDesktopApi } from './desktop-api';

const api: LoamDesktopApi = createDesktopApi((channel) => ipcRenderer.invoke(channel));
contextBridge.exposeInMainWorld(DESKTOP_API_NAME, api);
