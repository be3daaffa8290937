/** Imports a module by absolute file URL, exactly that file (see import-file.mjs). */
export declare const importFile: (url: string) => Promise<Record<string, unknown>>;
