// Preload script for Electron apps: exposes the IPC bridge to the main world with contextBridge
// and installs the navigator.credentials patch there (main frame and same-origin frames, where
// the preload runs with nodeIntegrationInSubFrames). The main process (main.js,
// registerLatchkeyIpc) decides which origins may use it and talks to latchkeyd.
'use strict';
const { contextBridge, ipcRenderer, webFrame } = require('electron');
const { latchkeyPatch } = require('./patch.js');

contextBridge.exposeInMainWorld('__latchkeyBridge', {
  create: (id, optionsJSON) => ipcRenderer.invoke('latchkey:create', id, optionsJSON),
  get: (id, optionsJSON) => ipcRenderer.invoke('latchkey:get', id, optionsJSON),
  cancel: (id) => ipcRenderer.send('latchkey:cancel', id),
  capabilities: () => ipcRenderer.invoke('latchkey:capabilities'),
});
webFrame.executeJavaScript(`(${latchkeyPatch.toString()})(window.__latchkeyBridge)`);
