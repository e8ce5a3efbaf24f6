/* The fixtures' per-architecture header (fixtures/arch/<arch>/include/asm):
 * its callers need no declaration, and each architecture's version is a
 * fixture checked on its own. */
