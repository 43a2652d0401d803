/** localefs' version (package.json's; test/unit/version.test.ts checks they agree). */
export const LOCALEFS_VERSION = '0.1.0';
