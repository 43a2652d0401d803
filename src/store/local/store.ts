export { LocalStore, LocalFile, type LocalStoreOptions } from './local-store.js';
