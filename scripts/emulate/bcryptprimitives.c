/*
 * A stand-in for Windows' bcryptprimitives.dll, for Wine 8, which lacks it:
 * Go programs call its ProcessPrng at start-up (Go >= 1.22), and esbuild,
 * which tsx runs to load the TypeScript tests, is one. scripts/emulate.mjs
 * builds it with zig into the Wine prefix's system32. Never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG n = size > 0x40000000 ? 0x40000000 : (ULONG)size;
    if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += n;
    size -= n;
  }
  return TRUE;
}
