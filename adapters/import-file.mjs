// Imports a module by absolute file URL. It is JavaScript on purpose: when diffspec itself runs from
// TypeScript sources through tsx, an import made from a .ts file lets tsx swap `mine.js` for a
// neighbouring `mine.ts`; from a .mjs file it loads exactly the file named (adapters/load.ts).
export const importFile = (url) => import(url);
