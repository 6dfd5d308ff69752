/** Follows the TrueStack API: 1.x talks to /api/v1 (kept equal to package.json by a test). */
export const VERSION = "1.0.0";
