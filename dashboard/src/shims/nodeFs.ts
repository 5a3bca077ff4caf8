/** Browser stand-in for node:fs (see web/vite.config.ts): the dashboard never reads files. */
export function readFileSync(file: string): never {
    throw new Error(`readFileSync(${file}) is not available in the browser`);
}
