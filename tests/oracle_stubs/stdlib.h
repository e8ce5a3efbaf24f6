/* Host header for the tools/ shim fixture: malloc and free need no prototype here. */
