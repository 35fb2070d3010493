/**
 * zod, bundled into this one file at build time (`npm run build`): the package is ~100 files, and loading them one
 * by one cost every command ~0.06 s of start-up. Import zod from here, not from 'zod'.
 */
export { z } from 'zod';
